"""How an account sends requests: its keys, addresses, clients, models and parameters,
and the one usage line each request becomes."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from casework.demo.world.accounts import Account
from casework.demo.world.prompts import KINDS, Prompts
from casework.demo.world.timing import Timing
from casework.demo.world.window import WINDOW_MS, iso_millis

EMBEDDINGS = "/v1/embeddings"


class EndUsers:
    """The end-user ids an account passes: either an explicit list (the network's users on
    a conduit reseller) or a pool of opaque ids derived from a salt, so large pools cost no
    memory."""

    __slots__ = ("names", "pattern", "pool", "salt", "share")

    def __init__(
        self,
        share: float,
        *,
        names: list[str] | None = None,
        pattern: str = "",
        salt: int = 0,
        pool: int = 1,
    ):
        self.share = share
        self.names = names
        self.pattern = pattern
        self.salt = salt
        self.pool = pool

    def draw(self, rng: random.Random) -> str | None:
        if rng.random() >= self.share:
            return None
        if self.names:
            return rng.choice(self.names)
        return self.pattern.format(
            ((rng.randrange(self.pool) * 2654435761) ^ self.salt) & 0xFFFFFFFF
        )


class ProxyRotation:
    """Requests sent through a rotating proxy service: each leaves from an exit of the
    pool, kept for a few minutes when the session is sticky, else a new exit each time."""

    __slots__ = ("exits", "last_ip", "last_ms", "sticky_ms")

    def __init__(self, exits: list[str], sticky_ms: int):
        self.exits = exits
        self.sticky_ms = sticky_ms
        self.last_ip = ""
        self.last_ms = -1

    def draw(self, rng: random.Random, moment: int) -> str:
        if not self.last_ip or moment - self.last_ms > self.sticky_ms:
            self.last_ip = rng.choice(self.exits)
        self.last_ms = moment
        return self.last_ip


@dataclass(slots=True)
class Traffic:
    """How one account (or one slice of a reseller account) sends requests."""

    account: Account
    weight: float
    timing: Timing
    prompts: Prompts
    keys: list[str]
    ips: list[str]
    user_agents: list[str]
    endpoints: list[str]
    models: list[str]
    models_after: list[str] = field(default_factory=list)
    adopt_ms: int = WINDOW_MS + 1
    end_users: EndUsers | None = None
    logprobs_share: float = 0.0
    top_logprobs: tuple[int, ...] = (0,)
    logit_bias_share: float = 0.0
    logit_bias_tokens: tuple[int, ...] = ()
    temperatures: tuple[float, ...] = (0.7,)
    max_tokens: tuple[int, ...] = (1024,)
    n_values: tuple[int, ...] = (1,)
    rate_limited_share: float = 0.002
    error_share: float = 0.004
    lo: int = 0
    hi: int = WINDOW_MS
    count: int = 0
    # Parameters beyond the five every request carries (top_p, ...): one set per request.
    extra_params: tuple[dict, ...] = ()
    rotation: ProxyRotation | None = None

    def line(self, moment: int, rng: random.Random, request_id: str, encode) -> tuple[str, int]:
        rnd, choice = rng.random, rng.choice
        endpoint = choice(self.endpoints)
        embedding = endpoint == EMBEDDINGS
        if embedding:
            model = "embed-1"
        elif moment >= self.adopt_ms and self.models_after:
            model = choice(self.models_after)
        else:
            model = choice(self.models)
        prompt, kind = self.prompts.draw(rng)
        context_lo, context_hi, mu, sigma = KINDS[kind]
        input_tokens = len(prompt) // 4 + rng.randint(context_lo, context_hi)
        n = 1 if embedding else choice(self.n_values)
        if embedding:
            output_tokens, max_tokens, temperature = 0, None, None
            logprobs, top = False, 0
        else:
            max_tokens = choice(self.max_tokens)
            temperature = choice(self.temperatures)
            output_tokens = min(max_tokens, 1 + int(rng.lognormvariate(mu, sigma))) * n
            logprobs = self.logprobs_share > 0 and rnd() < self.logprobs_share
            top = choice(self.top_logprobs) if logprobs else 0
        status = 200
        roll = rnd()
        if roll < self.rate_limited_share:
            status, input_tokens, output_tokens = 429, 0, 0
        elif roll < self.rate_limited_share + self.error_share:
            status, output_tokens = choice((400, 400, 400, 500, 503)), 0
        params = {
            "logprobs": logprobs,
            "top_logprobs": top,
            "n": n,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        if self.logit_bias_share and not embedding and rnd() < self.logit_bias_share:
            picked = rng.sample(self.logit_bias_tokens, rng.randint(2, 5))
            params["logit_bias"] = {str(token): -100 for token in sorted(picked)}
        if self.extra_params:
            params.update(choice(self.extra_params))
        end_user = self.end_users.draw(rng) if self.end_users else None
        record = {
            "request_id": request_id,
            "ts": iso_millis(moment),
            "account_id": self.account.account_id,
            "api_key_id": choice(self.keys),
            "model": model,
            "endpoint": endpoint,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "source_ip": self.rotation.draw(rng, moment) if self.rotation else choice(self.ips),
            "user_agent": choice(self.user_agents),
            "end_user": end_user,
            "params": params,
            "prompt": prompt,
            "status": status,
        }
        return encode(record), output_tokens
