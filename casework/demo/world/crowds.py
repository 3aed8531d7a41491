"""The light-swarm world's innocent crowds: many accounts that look coordinated and are
not, each a trap for a naive coordination detector.

- users of one open-source app share its prompt scaffold, client and defaults;
- a mobile carrier's subscribers share its few NAT addresses in one country;
- a tutoring product's accounts ask for worked steps in every prompt;
- and ordinary customers' habits vary as they do in life (some send top_p, some phones
  change address often), so neither is a tell of the swarm.

The open-source app's users and the carrier's subscribers are ordinary customers in
everything else: their volumes come from the benign distribution and their traffic shares
the benign cohort's events.
"""

from __future__ import annotations

import math
import random

from casework.demo.world.accounts import Account
from casework.demo.world.archetypes import PLAN_VOLUME_MU
from casework.demo.world.draws import host, weighted
from casework.demo.world.population import Population
from casework.demo.world.prompts import COMPILED, TemplatePrompts, templates_compile
from casework.demo.world.timing import SessionTiming, rhythm_profile
from casework.demo.world.traffic import EndUsers, Traffic
from casework.demo.world.vocabulary import BROWSER_AGENTS, FREEMAIL, LOOKALIKES
from casework.demo.world.window import DAY_MS, HOUR_MS, WINDOW_MS, ms_from_iso

_SMALL_PLANS = {"tier-1": 60, "tier-2": 25, "tier-3": 10, "tier-4": 5}
_MOBILE_BROWSERS = BROWSER_AGENTS[7:9]


def _ordinary_weight(world: Population, plan: str, lo: int, hi: int) -> float:
    """A volume drawn exactly as the benign cohort's (benign.py)."""
    volume = min(math.exp(world.rng.gauss(PLAN_VOLUME_MU[plan], 1.1)), 900.0)
    return volume * (hi - lo) / WINDOW_MS


def _templates(world: Population, sets: list) -> tuple[list, list[float]]:
    """An account's own few templates, used with uneven frequency, as benign accounts do."""
    chosen = world.rng.sample(sets, min(len(sets), world.rng.randint(2, 6)))
    return chosen, [1.0 / (rank + 1) ** 1.2 for rank in range(len(chosen))]


def _person(world: Population, *, personal_share: float) -> tuple[str, str]:
    rng = world.rng
    if rng.random() < personal_share:
        first, last = world.person()
        return f"{first} {last}", world.personal_email(first, last, rng.choice(FREEMAIL))
    org_name = world.org_name()
    return org_name, world.org_email(world.domain(org_name))


def _own_addresses(world: Population, prefix: str, count: int, taken: set[str]) -> list[str]:
    """Addresses in `prefix` that no other member of the crowd uses."""
    own: list[str] = []
    while len(own) < count:
        address = host(world.rng, prefix)
        if address not in taken:
            taken.add(address)
            own.append(address)
    return own


def _created(world: Population) -> int:
    rng = world.rng
    if rng.random() < 0.9:
        return world.created_before_window()
    return rng.randrange(0, 10 * DAY_MS)


def open_source_app_add(world: Population, count: int) -> None:
    rng = world.rng
    app = rng.choice(LOOKALIKES["open_source_apps"])
    scaffold, defaults = app["scaffold"], app["defaults"]
    sets = [
        (scaffold + text, fields, kind)
        for name in ("content", "personal", "code", "translate")
        for text, fields, kind in COMPILED[name]
    ]
    taken: set[str] = set()
    for _ in range(count):
        plan = weighted(rng, _SMALL_PLANS)
        country, tz = world.country()
        org_name, email = _person(world, personal_share=0.7)
        account = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=org_name,
                email=email,
                created_ms=_created(world),
                country=country,
                billing_country=country,
                payment_fingerprint=world.card(),
                signup_ip=host(rng, world.home_prefix()),
                signup_user_agent=world.browser(),
                plan=plan,
                status="active",
                reseller=False,
                role="hard_negative",
                group="open-source-app",
                kind="open_source_app_users",
                tz=tz,
            )
        )
        account.keys = world.api_keys(rng.choices((1, 2), weights=(80, 20))[0])
        lo, hi = max(0, account.created_ms + rng.randint(5, 600) * 60_000), WINDOW_MS
        version = weighted(rng, app["versions"])
        chosen, weights = _templates(world, sets)
        models = rng.choices(("frontier-2", "frontier-2-mini"), weights=(5, 4), k=20)
        adopt_ms, after = world.adoption(models, within_window_share=0.18)
        # most keep the app's defaults; some changed the temperature in its settings
        temperature = defaults["temperature"]
        if rng.random() < 0.2:
            temperature = rng.choice((0.0, 0.3, 0.5, 1.0))
        world.traffic["benign"].append(
            Traffic(
                account=account,
                weight=_ordinary_weight(world, plan, lo, hi),
                timing=SessionTiming(
                    rhythm_profile(weighted(rng, {"developer": 4, "consumer": 3, "office": 3}), tz),
                    rng.uniform(2.0, 8.0),
                    rng.uniform(30_000.0, 120_000.0),
                ),
                prompts=TemplatePrompts(chosen, weights),
                keys=account.keys,
                ips=_own_addresses(world, world.home_prefix(), rng.randint(1, 3), taken),
                user_agents=[app["agent"].format(version=version)],
                endpoints=["/v1/chat/completions"],
                models=models,
                models_after=after,
                adopt_ms=adopt_ms,
                temperatures=(temperature,),
                max_tokens=(defaults["max_tokens"],),
                extra_params=({"top_p": defaults["top_p"]},),
                lo=lo,
                hi=hi,
            )
        )
    world.groups_extra["open-source-app"] = {
        "app": app["name"],
        "user_agent": app["agent"],
        "scaffold_opening": scaffold[:60],
        "defaults": defaults,
    }


def carrier_nat_add(world: Population, count: int) -> None:
    rng = world.rng
    country, tz = world.country()
    block = rng.choice(world.isp_blocks)
    prefixes = [f"{block}.{rng.randint(0, 255)}" for _ in range(2)]
    nat = sorted({host(rng, rng.choice(prefixes)) for _ in range(rng.randint(8, 12))})
    sets = COMPILED["personal"] + COMPILED["content"] + COMPILED["translate"]
    for _ in range(count):
        plan = weighted(rng, {"tier-1": 80, "tier-2": 20})
        first, last = world.person()
        account = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=f"{first} {last}",
                email=world.personal_email(first, last, rng.choice(FREEMAIL)),
                created_ms=_created(world),
                country=country,
                billing_country=country,
                payment_fingerprint=world.card(),
                signup_ip=rng.choice(nat),
                signup_user_agent=rng.choice(_MOBILE_BROWSERS),
                plan=plan,
                status="active",
                reseller=False,
                role="hard_negative",
                group="carrier-nat",
                kind="carrier_nat",
                tz=tz,
            )
        )
        account.keys = world.api_keys(1)
        lo, hi = max(0, account.created_ms + rng.randint(5, 600) * 60_000), WINDOW_MS
        chosen, weights = _templates(world, sets)
        agents = [rng.choice(_MOBILE_BROWSERS)]
        if rng.random() < 0.5:
            agents.append(rng.choice(("okhttp/4.12.0", "OpenAI/JS 4.77.0", "axios/1.7.9")))
        models = rng.choices(("frontier-2-mini", "frontier-2"), weights=(6, 4), k=20)
        adopt_ms, after = world.adoption(models, within_window_share=0.18)
        world.traffic["benign"].append(
            Traffic(
                account=account,
                weight=_ordinary_weight(world, plan, lo, hi),
                timing=SessionTiming(
                    rhythm_profile("consumer", tz),
                    rng.uniform(1.5, 5.0),
                    rng.uniform(40_000.0, 150_000.0),
                ),
                prompts=TemplatePrompts(chosen, weights),
                keys=account.keys,
                ips=rng.sample(nat, rng.randint(2, 5)),
                user_agents=agents,
                endpoints=["/v1/chat/completions"],
                models=models,
                models_after=after,
                adopt_ms=adopt_ms,
                temperatures=(0.7, 1.0),
                max_tokens=(512, 1024),
                lo=lo,
                hi=hi,
            )
        )
    world.groups_extra["carrier-nat"] = {
        "country": country,
        "nat_addresses": nat,
        "nat_prefixes": sorted({f"{address.rsplit('.', 1)[0]}.0/24" for address in nat}),
    }


def tutoring_product_add(world: Population, count: int) -> None:
    rng = world.rng
    tutoring = LOOKALIKES["tutoring"]
    org_name = f"{rng.choice(tutoring['org_words'])} {rng.choice(tutoring['org_suffixes'])}"
    domain = world.domain(org_name)
    home = rng.choice(("US", "GB", "IN", "AU", "CA"))
    card = world.card()
    templates = templates_compile([(t["text"], t["kind"]) for t in tutoring["templates"]])
    founded = ms_from_iso("2025-06-15T00:00:00Z") + rng.randrange(0, 60 * DAY_MS)
    deployments, taken = [], set()
    for number in range(count):
        # one account per deployment (a school district, a country's app)
        country = home if number == 0 or rng.random() < 0.6 else world.country()[0]
        tz = rng.choice(world.country_tz[country])
        own = rng.choice(world.hosting_prefixes)
        account = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=org_name,
                email=world.org_email(domain),
                created_ms=min(founded + number * rng.randrange(3 * DAY_MS, 25 * DAY_MS), -HOUR_MS),
                country=country,
                billing_country=home,
                payment_fingerprint=card,
                signup_ip=host(rng, own),
                signup_user_agent=world.browser(),
                plan=rng.choice(("tier-3", "tier-4")),
                status="active",
                reseller=False,
                role="hard_negative",
                group="tutoring-product",
                kind="tutoring_product",
                tz=tz,
            )
        )
        account.keys = world.api_keys(rng.randint(1, 2))
        deployments.append(country)
        world.traffic["tutoring"].append(
            Traffic(
                account=account,
                weight=rng.uniform(0.5, 1.5),
                timing=SessionTiming(rhythm_profile("school", tz), 3.0, 45_000.0),
                prompts=TemplatePrompts(templates, [1.0] * len(templates)),
                keys=account.keys,
                ips=_own_addresses(world, own, 2, taken),
                user_agents=["python-httpx/0.28.1"],
                endpoints=["/v1/chat/completions"],
                models=["frontier-2-mini"] * 3 + ["frontier-2"],
                end_users=EndUsers(
                    1.0, pattern="stu_{:08x}", salt=rng.getrandbits(32), pool=rng.randint(300, 3000)
                ),
                temperatures=(0.3,),
                max_tokens=(2048,),
            )
        )
    world.groups_extra["tutoring-product"] = {"organisation": org_name, "deployments": deployments}


def ordinary_habits_vary(world: Population) -> None:
    """Ordinary customers' habits the swarm shares, so neither is a tell of it: about a
    third send top_p, and some home or phone connections change address every few days.
    Drawn from a generator of their own, after everything else is built."""
    rng = random.Random(f"pacta-scenario:{world.seed}:habits")
    hosting = set(world.hosting_prefixes)
    for stream in world.traffic["benign"]:
        if stream.account.group != "benign":
            continue
        if rng.random() < 0.3:
            stream.extra_params = ({"top_p": rng.choice((1.0, 1.0, 0.95, 0.9, 0.8))},)
        first = stream.ips[0]
        if first.rsplit(".", 1)[0] not in hosting and rng.random() < 0.15:
            block = ".".join(first.split(".")[:2])
            stream.ips = stream.ips + [
                f"{block}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
                for _ in range(rng.randint(4, 20))
            ]
