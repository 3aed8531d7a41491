"""Ordinary customers: apps, pipelines and individuals on every plan, a few of them
running several accounts on one card (payment links alone prove nothing)."""

from __future__ import annotations

import math

from casework.demo.world.accounts import Account
from casework.demo.world.archetypes import (
    ARCHETYPES,
    ARCHETYPES_LARGE,
    ARCHETYPES_SMALL,
    BENIGN_PLANS,
    PLAN_VOLUME_MU,
)
from casework.demo.world.draws import host, weighted
from casework.demo.world.population import Population
from casework.demo.world.prompts import (
    COMPILED,
    TemplatePrompts,
)
from casework.demo.world.timing import SessionTiming, rhythm_profile
from casework.demo.world.traffic import EndUsers, Traffic
from casework.demo.world.vocabulary import (
    FREEMAIL,
    SDK_AGENTS,
    THROWAWAY,
)
from casework.demo.world.window import (
    HOUR_MS,
    WINDOW_MS,
)


def benign_add(world: Population, count: int, *, eager: bool = False) -> None:
    """Ordinary customers; `eager` ones (the light-swarm world's eager adopters) are drawn
    the same way, but are active, exist before the release and move to the new model in
    its first days."""
    rng = world.rng
    first_benign = len(world.accounts)
    for _ in range(count):
        plan = weighted(rng, BENIGN_PLANS)
        archetype_name = weighted(
            rng, ARCHETYPES_SMALL if plan in ("tier-1", "tier-2") else ARCHETYPES_LARGE
        )
        archetype = ARCHETYPES[archetype_name]
        country, tz = world.country()
        billing = country if rng.random() > 0.04 else world.country()[0]
        personal = archetype_name == "personal" or (plan == "tier-1" and rng.random() < 0.4)
        if personal:
            first, last = world.person()
            org_name = f"{first} {last}"
            domain = rng.choice(THROWAWAY) if rng.random() < 0.004 else rng.choice(FREEMAIL)
            email = world.personal_email(first, last, domain)
        else:
            org_name = world.org_name()
            email = world.org_email(world.domain(org_name))
        created = (
            world.created_before_window()
            if rng.random() < 0.88 or eager
            else rng.randrange(0, WINDOW_MS - HOUR_MS)
        )
        roll = rng.random()
        status = "active" if roll < 0.965 or eager else ("closed" if roll < 0.99 else "suspended")
        signup_ip = host(
            rng,
            rng.choice(world.hosting_prefixes) if rng.random() < 0.12 else world.home_prefix(),
        )
        account = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=org_name,
                email=email,
                created_ms=created,
                country=country,
                billing_country=billing,
                payment_fingerprint=world.card(),
                signup_ip=signup_ip,
                signup_user_agent=world.browser(),
                plan=plan,
                status=status,
                reseller=False,
                role="hard_negative" if eager else "benign",
                group="eager-adopters" if eager else "benign",
                kind="eager_adopter" if eager else archetype_name,
                tz=tz,
            )
        )
        if status == "suspended":
            account.active_until_ms = rng.randrange(max(created, 0) + HOUR_MS, WINDOW_MS)
        dormant = (status == "closed" or rng.random() < 0.08) and not eager
        lo = max(0, created + rng.randint(5, 600) * 60_000)
        hi = account.active_until_ms
        if dormant or hi - lo < 2 * HOUR_MS:
            continue
        weight = min(math.exp(rng.gauss(PLAN_VOLUME_MU[plan], 1.1)), 900.0) * (hi - lo) / WINDOW_MS
        shape = weighted(rng, archetype["shapes"])
        mean_extra, mean_gap = archetype["session"]
        mean_extra *= rng.uniform(0.5, 1.5)
        mean_gap *= rng.uniform(0.5, 1.5)
        rhythm_param = rng.randrange(24) if shape == "batch" else 0
        timing = SessionTiming(rhythm_profile(shape, tz, rhythm_param), mean_extra, mean_gap)
        sets = [template for name in archetype["templates"] for template in COMPILED[name]]
        chosen = rng.sample(sets, min(len(sets), rng.randint(2, 6)))
        weights = [1.0 / (rank + 1) ** 1.2 for rank in range(len(chosen))]
        account.keys = world.api_keys(rng.choices((1, 2, 3, 4), weights=(50, 30, 12, 8))[0])
        server = archetype_name != "personal" and rng.random() < 0.75
        agents = rng.sample(SDK_AGENTS, rng.randint(1, 2))
        if not server or rng.random() < 0.2:
            agents.append(world.browser())
        common = world.traffic_common(archetype)
        if eager:
            adopt_ms, after = world.eager_adoption(common["models"])
            # trying the new model out: a busy day and a half from the moment they move
            hour = adopt_ms // HOUR_MS
            timing.cumulative = rhythm_profile(shape, tz, rhythm_param, (hour, hour + 36))
        else:
            adopt_ms, after = world.adoption(common["models"], within_window_share=0.18)
        uses_logprobs = rng.random() < archetype["logprob_accounts"]
        end_users = None
        if rng.random() < archetype["end_users"]:
            end_users = EndUsers(
                rng.uniform(0.8, 1.0),
                pattern=rng.choice(("u_{:08x}", "user-{}", "{:08x}", "cus_{:08x}")),
                salt=rng.getrandbits(32),
                pool=max(2, int(rng.lognormvariate(4.0, 1.3))),
            )
        world.traffic["benign"].append(
            Traffic(
                account=account,
                weight=weight,
                timing=timing,
                prompts=TemplatePrompts(
                    chosen, weights, cot_share=0.03 if rng.random() < 0.1 else 0.0
                ),
                keys=account.keys,
                ips=world.ips(rng.randint(1, 4), hosting_share=0.75 if server else 0.05),
                user_agents=agents,
                endpoints=common["endpoints"],
                models=common["models"],
                models_after=after,
                adopt_ms=adopt_ms,
                end_users=end_users,
                logprobs_share=rng.uniform(0.3, 1.0) if uses_logprobs else 0.0,
                top_logprobs=(1, 2, 3, 5),
                temperatures=archetype["temperatures"],
                max_tokens=archetype["max_tokens"],
                lo=lo,
                hi=hi,
            )
        )
    if eager:
        return
    # A few ordinary customers run several accounts (a personal one and a work one, or
    # an org's staging and production) on one card: payment links alone prove nothing.
    benign = world.accounts[first_benign:]
    for _ in range(max(2, len(benign) // 70)):
        owner, sibling = rng.sample(benign, 2)
        sibling.payment_fingerprint = owner.payment_fingerprint
        sibling.billing_country = owner.billing_country
        if not owner.email.endswith(FREEMAIL):
            sibling.org_name = owner.org_name
            sibling.email = world.org_email(owner.email.split("@", 1)[1])
