"""The light swarm: one operator behind many bought identities, each a light, ordinary
customer, harvesting through a residential proxy pool in campaign waves.

It is built after the benign cohort, from what that cohort drew: each account's plan,
volume and session habits come from the same distributions, so no per-account threshold
can set it apart. What gives the operator away is only what the accounts do together: the
proxy exits they take in turn, their one client and parameter set, the scheduler's waves,
the harvest in their mix and the move to the new model within hours of its release.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right

from casework.demo.world.accounts import Account
from casework.demo.world.archetypes import ARCHETYPES, BENIGN_PLANS
from casework.demo.world.draws import host, weighted
from casework.demo.world.population import Population
from casework.demo.world.prompts import TemplatePrompts
from casework.demo.world.provider import NEW_MODEL, NEW_MODEL_RELEASE, RELEASE_MS
from casework.demo.world.swarm_prompts import COVER_TEMPLATES, HarvestPrompts, paraphrase_space
from casework.demo.world.timing import WaveTiming
from casework.demo.world.traffic import ProxyRotation, Traffic
from casework.demo.world.vocabulary import FREEMAIL, SWARM
from casework.demo.world.window import (
    DAY_MS,
    HOUR_MS,
    WINDOW_MS,
    iso_seconds,
    ms_from_iso,
)

# Bought identities sign up like small customers: no enterprise contract.
_SWARM_PLANS = {plan: weight for plan, weight in BENIGN_PLANS.items() if plan != "enterprise"}
# Session habits borrowed from the archetypes of people and apps (not batch pipelines).
_SESSIONS = tuple(
    ARCHETYPES[name]["session"]
    for name in ARCHETYPES
    if name != "data-pipeline"  # a batch pipeline's sessions are no person's
)
_SHAPES = SWARM["request_shapes"]


def light_swarm_add(world: Population, count: int) -> None:
    rng = world.rng
    pool = _proxy_pool(world, max(150, min(400, 2 * count)))
    providers = _providers(rng, pool)
    waves = _waves(rng)
    shape = _request_shape(rng)
    volumes = _ordinary_volumes(world)
    switch = RELEASE_MS + rng.randrange(1 * HOUR_MS, 4 * HOUR_MS)
    mix = [rng.uniform(4, 6), rng.uniform(1.5, 3), rng.uniform(1, 2.5)]
    first_signup = ms_from_iso("2025-11-10T00:00:00Z")
    last_signup = 10 * DAY_MS
    orgs_seen: set[str] = set()
    for _ in range(count):
        exits = [
            address for provider in rng.sample(providers, rng.randint(1, 2)) for address in provider
        ]
        account = _identity(world, rng.choice(exits), first_signup, last_signup, orgs_seen)
        lo = max(0, account.created_ms + rng.randint(30, 600) * 60_000)
        hi = account.active_until_ms
        mean_extra, mean_gap = rng.choice(_SESSIONS)
        eligible = [
            (start, end)
            for start, end in waves
            if 8 <= math.floor(start / HOUR_MS + account.tz) % 24 <= 22
        ]
        presence = rng.uniform(0.2, 0.45)
        cover = rng.sample(COVER_TEMPLATES, rng.randint(2, 6))
        world.traffic["benign"].append(
            Traffic(
                account=account,
                weight=rng.choice(volumes) * rng.uniform(0.9, 1.1),
                timing=WaveTiming(
                    [wave for wave in eligible if rng.random() < presence],
                    mean_extra * rng.uniform(0.5, 1.5),
                    mean_gap * rng.uniform(0.5, 1.5),
                ),
                prompts=HarvestPrompts(
                    rng.uniform(0.3, 0.6),
                    mix,
                    TemplatePrompts(cover, [1.0 / (rank + 1) ** 1.2 for rank in range(len(cover))]),
                ),
                keys=account.keys,
                ips=exits,
                rotation=ProxyRotation(exits, rng.choice((0, 0, 0, 1, 3, 10)) * 60_000),
                user_agents=[shape["client"]],
                endpoints=["/v1/chat/completions"],
                models=["frontier-2"] * 8 + ["frontier-2-mini"] * 2,
                models_after=[NEW_MODEL] * 9 + ["frontier-2"],
                adopt_ms=switch + rng.randrange(0, 2 * HOUR_MS),
                temperatures=_varied(rng, shape["temperature"], _SHAPES["temperatures"]),
                max_tokens=_varied(rng, shape["max_tokens"], _SHAPES["max_tokens"]),
                extra_params=({"top_p": shape["top_p"]},),
                lo=lo,
                hi=hi,
            )
        )
    members = [a for a in world.accounts if a.group == "light-swarm"]
    world.groups_extra["light-swarm"] = {
        "proxy_pool": {
            "addresses": len(pool),
            "prefixes_24": len({address.rsplit(".", 1)[0] for address in pool}),
            "prefixes_16": len({".".join(address.split(".")[:2]) for address in pool}),
            "providers": len(providers),
        },
        "request_shape": {
            "client": shape["client"],
            "endpoint": "/v1/chat/completions",
            "max_tokens": shape["max_tokens"],
            "temperature": shape["temperature"],
            "top_p": shape["top_p"],
        },
        "campaign_waves": len(waves),
        "signups": {
            "first_created_at": iso_seconds(min(a.created_ms for a in members)),
            "last_created_at": iso_seconds(max(a.created_ms for a in members)),
        },
        "reasoning_wordings": paraphrase_space(),
        "release_chasing": {
            "model": NEW_MODEL,
            "released": NEW_MODEL_RELEASE,
            "switched_at": iso_seconds(switch),
        },
    }


def _identity(
    world: Population, signup_ip: str, first: int, last: int, orgs_seen: set[str]
) -> Account:
    """A bought identity: a person or a small business anywhere, its own email and card."""
    rng = world.rng
    plan = weighted(rng, _SWARM_PLANS)
    country, tz = world.country()
    billing = country if rng.random() > 0.04 else world.country()[0]
    given, family = world.person()
    if rng.random() < 0.6:
        org_name = f"{given} {family}"
        email = world.personal_email(given, family, rng.choice(FREEMAIL))
    else:
        org_name = world.org_name()
        while world.domain(org_name) in orgs_seen:
            org_name = world.org_name()
        orgs_seen.add(world.domain(org_name))
        email = world.org_email(world.domain(org_name))
    account = world.add(
        Account(
            account_id=world.new_id("acct_", 12),
            org_name=org_name,
            email=email,
            created_ms=first + int(rng.random() * (last - first)),
            country=country,
            billing_country=billing,
            payment_fingerprint=world.card(),
            signup_ip=signup_ip,
            signup_user_agent=world.browser(),
            plan=plan,
            status="active",
            reseller=False,
            role="adversary",
            group="light-swarm",
            kind="light_swarm",
            tz=tz,
        )
    )
    if rng.random() < 0.03:  # a few caught and suspended by ordinary fraud checks
        account.status = "suspended"
        account.active_until_ms = rng.randrange(max(account.created_ms, 0) + DAY_MS, WINDOW_MS)
    account.keys = world.api_keys(rng.choices((1, 2, 3, 4), weights=(50, 30, 12, 8))[0])
    return account


def _proxy_pool(world: Population, size: int) -> list[str]:
    """Residential exits: home connections in the same ISPs' ranges as ordinary users,
    nearly one to a /24, spread over dozens of /16s."""
    rng = world.rng
    blocks = rng.sample(world.isp_blocks, min(len(world.isp_blocks), max(30, size // 6)))
    pool: dict[str, None] = {}
    while len(pool) < size:
        pool[host(rng, f"{rng.choice(blocks)}.{rng.randint(0, 255)}")] = None
    return list(pool)


def _providers(rng: random.Random, pool: list[str]) -> list[list[str]]:
    """The operator buys from two or three proxy services, each with its own share of exits."""
    shuffled = pool[:]
    rng.shuffle(shuffled)
    count = rng.randint(2, 3)
    return [shuffled[number::count] for number in range(count)]


def _waves(rng: random.Random) -> list[tuple[int, int]]:
    """The scheduler's campaign waves: every few hours round the clock, closer together
    for the two days after the release, when the new model is harvested first."""
    waves, moment = [], rng.randrange(0, 3 * HOUR_MS)
    while moment < WINDOW_MS:
        length = rng.randrange(45, 150) * 60_000
        waves.append((moment, min(moment + length, WINDOW_MS)))
        surge = RELEASE_MS <= moment < RELEASE_MS + 2 * DAY_MS
        gap = (
            rng.randrange(1 * HOUR_MS, 3 * HOUR_MS)
            if surge
            else rng.randrange(2 * HOUR_MS, 7 * HOUR_MS)
        )
        moment += length + gap
    return waves


def _request_shape(rng: random.Random) -> dict:
    """The operator's harness: one client, one parameter set."""
    return {
        "client": rng.choice(_SHAPES["clients"]),
        "max_tokens": rng.choice(_SHAPES["max_tokens"]),
        "temperature": rng.choice(_SHAPES["temperatures"]),
        "top_p": rng.choice(_SHAPES["top_p"]),
    }


def _varied(rng: random.Random, usual, options: list) -> tuple:
    """The harness's value; a minority of accounts were set up by hand and send another
    value in a few of their requests."""
    if rng.random() >= 0.3:
        return (usual,)
    other = rng.choice([value for value in options if value != usual])
    return (usual,) * rng.randint(5, 9) + (other,)


def _ordinary_volumes(world: Population) -> list[float]:
    """Volumes of the ordinary customers between their 25th and 60th percentile: an account
    drawn from these is never among the lightest or the heaviest, even with the long
    answers its harvest brings (the operator budgets tokens, not only requests)."""
    weights = sorted(
        stream.weight for stream in world.traffic["benign"] if stream.account.group == "benign"
    )
    lo = bisect_left(weights, weights[25 * len(weights) // 100])
    hi = bisect_right(weights, weights[60 * len(weights) // 100])
    return weights[lo:hi]
