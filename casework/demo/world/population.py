"""The population of the world being built, and the identities its cohorts draw.

Every cohort (`benign`, `adversaries`, `lookalikes`) adds its accounts and traffic to one
`Population`, in a fixed order, drawing from the one seeded generator it holds: the order
of the draws is what makes a seed give byte-identical files.
"""

from __future__ import annotations

import math
import random
import re

from casework.demo.world.accounts import Account
from casework.demo.world.draws import hex_digits, host, public_prefix
from casework.demo.world.provider import NEW_MODEL, RELEASE_MS
from casework.demo.world.shapes import CLASSIC, event_shares
from casework.demo.world.traffic import Traffic
from casework.demo.world.vocabulary import (
    BROWSER_AGENTS,
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    ORG_SUFFIXES,
    ORG_WORDS_A,
    ORG_WORDS_B,
)
from casework.demo.world.window import DAY_MS, HOUR_MS, WINDOW_MS, ms_from_iso


class Population:
    """The world being built: its accounts, their traffic, what the labels add per group,
    and the identities (ids, names, emails, cards, addresses) every cohort draws from one
    seeded generator in turn."""

    def __init__(self, *, accounts: int, events: int, seed: int, shape: str = CLASSIC):
        self.total_events = events
        self.seed = seed
        self.shape = shape
        self.event_shares = event_shares(shape)
        self.rng = random.Random(f"pacta-scenario:{seed}:world")
        self.accounts: list[Account] = []
        self.traffic: dict[str, list[Traffic]] = {name: [] for name in self.event_shares}
        self.groups_extra: dict[str, dict] = {}
        self._ids: dict[str, None] = {}
        rng = self.rng
        self.hosting_prefixes = ["192.0.2", "198.51.100", "203.0.113"]
        self.hosting_prefixes += [public_prefix(rng) for _ in range(45)]
        rng.shuffle(self.hosting_prefixes)
        self.country_codes = [code for code, _weight, _tz in COUNTRIES]
        self.country_weights = [weight for _code, weight, _tz in COUNTRIES]
        self.country_tz = {code: tzs for code, _weight, tzs in COUNTRIES}
        # Home broadband and mobile ranges: the /16s residential ISPs announce. The classic
        # world draws home addresses anywhere; the light-swarm world puts its home users and
        # the residential proxy exits in the same ISPs' ranges, as they are in life.
        self.isp_blocks: list[str] = []
        if shape != CLASSIC:
            blocks = {public_prefix(rng).rsplit(".", 1)[0] for _ in range(160)}
            self.isp_blocks = sorted(blocks - {p.rsplit(".", 1)[0] for p in self.hosting_prefixes})

    # identities -----------------------------------------------------------------------

    def new_id(self, prefix: str, digits: int) -> str:
        while True:
            candidate = f"{prefix}{hex_digits(self.rng, digits)}"
            if candidate not in self._ids:
                self._ids[candidate] = None
                return candidate

    def country(self) -> tuple[str, float]:
        code = self.rng.choices(self.country_codes, weights=self.country_weights)[0]
        return code, self.rng.choice(self.country_tz[code])

    def person(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def org_name(self) -> str:
        pick = self.rng.choice
        style = self.rng.random()
        if style < 0.5:
            return f"{pick(ORG_WORDS_A)} {pick(ORG_WORDS_B)} {pick(ORG_SUFFIXES)}"
        if style < 0.8:
            return f"{pick(ORG_WORDS_B)}{pick(ORG_WORDS_A).lower()} {pick(ORG_SUFFIXES)}"
        return f"{pick(LAST_NAMES)} & {pick(LAST_NAMES)} {pick(ORG_SUFFIXES)}"

    @staticmethod
    def domain(org_name: str) -> str:
        words = re.sub(r"[^a-z0-9 ]", "", org_name.lower()).split()
        return "".join(words[:2]) + ".example"

    def personal_email(self, first: str, last: str, domain: str) -> str:
        rng = self.rng
        first, last = re.sub(r"[^a-z]", "", first.lower()), re.sub(r"[^a-z]", "", last.lower())
        style = rng.random()
        if style < 0.3:
            local = f"{first}.{last}"
        elif style < 0.5:
            local = f"{first}{last}"
        elif style < 0.65:
            local = f"{first[0]}{last}"
        elif style < 0.8:
            local = f"{first}_{last}{rng.randint(1, 99)}"
        else:
            local = f"{first}{last}{rng.randint(1960, 2005)}"
        return f"{local}@{domain}"

    def org_email(self, domain: str) -> str:
        rng = self.rng
        first, last = self.person()
        local = rng.choice(
            (
                "ops",
                "dev",
                "engineering",
                "admin",
                "billing",
                first.lower(),
                f"{first.lower()}.{last.lower()}",
                f"{first[0].lower()}{last.lower()}",
            )
        )
        return f"{re.sub(r'[^a-z0-9._]', '', local)}@{domain}"

    def card(self) -> str:
        return self.new_id("pf_", 12)

    def browser(self) -> str:
        return self.rng.choices(BROWSER_AGENTS, weights=(30, 22, 12, 8, 4, 8, 4, 7, 5))[0]

    def api_keys(self, count: int) -> list[str]:
        return [self.new_id("key_", 12) for _ in range(count)]

    def add(self, account: Account) -> Account:
        self.accounts.append(account)
        return account

    def created_before_window(self, earliest: str = "2025-06-01T00:00:00Z") -> int:
        lo, hi = ms_from_iso(earliest), -2 * HOUR_MS
        # growth: later sign-ups are more common than early ones
        return lo + int((hi - lo) * math.sqrt(self.rng.random()))

    def traffic_common(self, archetype: dict) -> dict:
        rng = self.rng
        return {
            "endpoints": rng.choices(
                list(archetype["endpoints"]), weights=list(archetype["endpoints"].values()), k=20
            ),
            "models": rng.choices(
                list(archetype["models"]), weights=list(archetype["models"].values()), k=20
            ),
        }

    def adoption(self, models: list[str], *, within_window_share: float) -> tuple[int, list[str]]:
        """When (if at all) an ordinary customer moves some traffic to the new model: days
        later, partially, as product teams test and roll out."""
        rng = self.rng
        if rng.random() >= within_window_share:
            return WINDOW_MS + 1, []
        delay = int(rng.lognormvariate(math.log(5 * DAY_MS), 0.8))
        share = rng.uniform(0.15, 0.6)
        after = [NEW_MODEL if rng.random() < share else rng.choice(models) for _ in range(20)]
        return RELEASE_MS + delay, after

    def home_prefix(self) -> str:
        """A /24 where ordinary people connect from home or phone."""
        if not self.isp_blocks:
            return public_prefix(self.rng)
        return f"{self.rng.choice(self.isp_blocks)}.{self.rng.randint(0, 255)}"

    def eager_adoption(self, models: list[str]) -> tuple[int, list[str]]:
        """An eager adopter tries the new model within hours to a few days of its release
        and moves a large share of its traffic to it."""
        rng = self.rng
        delay = min(max(int(rng.lognormvariate(math.log(20 * HOUR_MS), 0.8)), HOUR_MS), 5 * DAY_MS)
        share = rng.uniform(0.5, 0.95)
        after = [NEW_MODEL if rng.random() < share else rng.choice(models) for _ in range(20)]
        return RELEASE_MS + delay, after

    def ips(self, count: int, *, hosting_share: float) -> list[str]:
        rng = self.rng
        if rng.random() < hosting_share:
            prefixes = rng.sample(self.hosting_prefixes, min(2, count))
        else:
            prefixes = [self.home_prefix()]
        return [host(rng, rng.choice(prefixes)) for _ in range(count)]
