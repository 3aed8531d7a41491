"""The misconduct the detectors must find: the distillation network (masked accounts,
conduit resellers, a topic sweep round the clock) and the key-sharing ring working in shifts."""

from __future__ import annotations

import math
import random
import re

from casework.demo.world.accounts import Account
from casework.demo.world.archetypes import (
    ARCHETYPES,
)
from casework.demo.world.draws import host, largest_remainder, public_prefix
from casework.demo.world.population import Population
from casework.demo.world.prompts import (
    COMPILED,
    SweepPrompts,
    TemplatePrompts,
)
from casework.demo.world.provider import NEW_MODEL, NEW_MODEL_RELEASE, PLANS, RELEASE_MS
from casework.demo.world.timing import FixedTiming, SessionTiming, SlotTiming, rhythm_profile
from casework.demo.world.traffic import EndUsers, Traffic
from casework.demo.world.vocabulary import (
    BROWSER_AGENTS,
    FREEMAIL,
    THROWAWAY,
)
from casework.demo.world.window import (
    DAY_MS,
    HOUR_MS,
    WINDOW_MS,
    iso_seconds,
    ms_from_iso,
)


def distillation_network_add(world: Population, count: int) -> None:
    rng = world.rng
    signup_prefixes = rng.sample(world.hosting_prefixes, 3)
    egress_prefixes = signup_prefixes[:1] + rng.sample(world.hosting_prefixes, 3)
    automation_agent = BROWSER_AGENTS[0]
    # cards: about half the accounts have their own card, the rest share a few cards
    shared_cards = [(world.card(), world.country()[0]) for _ in range(max(2, count // 10))]
    bursts = max(3, min(12, count // 12))
    burst_starts = sorted(
        ms_from_iso("2025-10-15T00:00:00Z")
        + int(
            rng.random()
            * (ms_from_iso("2026-01-03T00:00:00Z") - ms_from_iso("2025-10-15T00:00:00Z"))
        )
        for _ in range(bursts - 1)
    )
    burst_starts.append(rng.randrange(10 * DAY_MS, 14 * DAY_MS))  # replacements, in window
    sizes = largest_remainder(count, [1.0] * (bursts - 1) + [0.6])
    slot_ms = 15 * 60_000
    active_slots = [s for s in range(WINDOW_MS // slot_ms) if rng.random() < 0.55]
    switch = RELEASE_MS + rng.randrange(3 * HOUR_MS, 20 * HOUR_MS)
    sweep = SweepPrompts(random.Random(f"pacta-scenario:{world.seed}:sweep"))
    bias_tokens = tuple(rng.sample(range(100, 100_000), 12))
    members, bursts_out = [], []

    def harvesting(account: Account, weight: float, lo: int, hi: int, timing, **extra) -> Traffic:
        before = ["frontier-2"] * 9 + ["frontier-2-mini"]
        after = [NEW_MODEL] * 9 + ["frontier-2"]
        return Traffic(
            account=account,
            weight=weight,
            timing=timing,
            prompts=sweep,
            endpoints=["/v1/chat/completions"] * 4 + ["/v1/completions"],
            models=before,
            models_after=after,
            adopt_ms=switch + rng.randrange(0, 6 * HOUR_MS),
            logprobs_share=rng.uniform(0.85, 0.98),
            top_logprobs=(20, 20, 20, 10),
            logit_bias_share=rng.uniform(0.05, 0.25),
            logit_bias_tokens=bias_tokens,
            temperatures=(0.0, 0.0, 1.0),
            max_tokens=(4096, 8192),
            n_values=(1,) * 8 + (2, 4),
            rate_limited_share=0.02,
            lo=lo,
            hi=hi,
            **extra,
        )

    for burst, (start, size) in enumerate(zip(burst_starts, sizes, strict=True)):
        moment = start
        burst_accounts = []
        for _ in range(size):
            moment += int(rng.expovariate(1 / (4 * 60_000))) + 20_000
            first, last = world.person()
            org_name = f"{first} {last}" if rng.random() < 0.5 else world.org_name()
            separator = rng.choice(("", ".", ""))
            local = re.sub(r"[^a-z.]", "", f"{first}{separator}{last}".lower())
            email = f"{local}{rng.randint(10, 9999)}@{rng.choice(THROWAWAY[:3])}"
            country, _tz = world.country()
            if rng.random() < 0.5:
                card, billing = rng.choice(shared_cards)
            else:
                card, billing = world.card(), rng.choice((country, world.country()[0]))
            account = world.add(
                Account(
                    account_id=world.new_id("acct_", 12),
                    org_name=org_name,
                    email=email,
                    created_ms=moment,
                    country=country,
                    billing_country=billing,
                    payment_fingerprint=card,
                    signup_ip=host(rng, rng.choice(signup_prefixes)),
                    signup_user_agent=automation_agent,
                    plan=rng.choices(("tier-1", "tier-2", "tier-3"), weights=(55, 35, 10))[0],
                    status="active",
                    reseller=False,
                    role="adversary",
                    group="distillation-network",
                    kind="distillation_network",
                )
            )
            if burst == 0 and rng.random() < 0.35:
                account.status = "suspended"
                account.active_until_ms = rng.randrange(4 * DAY_MS, 14 * DAY_MS)
            burst_accounts.append(account.account_id)
            members.append(account)
        bursts_out.append(
            {
                "first_created_at": iso_seconds(world.accounts[-size].created_ms),
                "last_created_at": iso_seconds(moment),
                "accounts": burst_accounts,
            }
        )
    for account in members:
        lo = max(0, account.created_ms + rng.randint(20, 180) * 60_000)
        hi = account.active_until_ms
        presence = rng.uniform(0.3, 0.6)
        participating = [s for s in active_slots if rng.random() < presence]
        account.keys = world.api_keys(rng.randint(1, 2))
        egress = rng.sample(egress_prefixes, 2)
        world.traffic["network-direct"].append(
            harvesting(
                account,
                rng.lognormvariate(0.0, 0.3) * (hi - lo) / WINDOW_MS,
                lo,
                hi,
                SlotTiming(participating, slot_ms),
                keys=account.keys,
                ips=[host(rng, rng.choice(egress)) for _ in range(rng.randint(1, 3))],
                user_agents=[
                    rng.choice(("python-httpx/0.27.2", "python-httpx/0.27.2", "aiohttp/3.10.11"))
                ],
            )
        )
    # Two reseller accounts the network routes part of its traffic through; each also
    # serves some ordinary customers, so only the end-user slice is the network's.
    conduits, end_users = [], {}
    for number in range(2):
        org_name = world.org_name().rsplit(" ", 1)[0] + rng.choice((" Cloud", " API", " Gateway"))
        country, tz = world.country()
        card = shared_cards[0][0] if number == 1 else world.card()
        account = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=org_name,
                email=world.org_email(world.domain(org_name)),
                created_ms=ms_from_iso("2025-09-01T00:00:00Z") + rng.randrange(0, 70 * DAY_MS),
                country=country,
                billing_country=shared_cards[0][1] if number == 1 else country,
                payment_fingerprint=card,
                signup_ip=host(rng, rng.choice(world.hosting_prefixes)),
                signup_user_agent=world.browser(),
                plan=("tier-4", "tier-5")[number],
                status="active",
                reseller=True,
                role="adversary",
                group="distillation-network",
                kind="conduit_reseller",
                tz=tz,
            )
        )
        account.keys = world.api_keys(2)
        pattern = ("usr_{:08x}", "cust-{:08x}")[number]
        salt = rng.getrandbits(32)
        network_users = sorted(
            {pattern.format(rng.getrandbits(32)) for _ in range(rng.randint(8, 16))}
        )
        end_users[account.account_id] = network_users
        ips = [host(rng, rng.choice(world.hosting_prefixes)) for _ in range(3)]
        agents = ["Go-http-client/2.0"]
        participating = [s for s in active_slots if rng.random() < 0.5]
        world.traffic["network-via-reseller"].append(
            harvesting(
                account,
                1.0,
                0,
                WINDOW_MS,
                SlotTiming(participating, slot_ms),
                keys=account.keys,
                ips=ips,
                user_agents=agents,
                end_users=EndUsers(1.0, names=network_users),
            )
        )
        own = ARCHETYPES["support-bot"]
        own_templates = COMPILED["support"] + COMPILED["content"]
        world.traffic["conduit-own-customers"].append(
            Traffic(
                account=account,
                weight=1.0,
                timing=SessionTiming(rhythm_profile("consumer", tz), 3.0, 30_000.0),
                prompts=TemplatePrompts(own_templates, [1.0] * len(own_templates)),
                keys=account.keys,
                ips=ips,
                user_agents=agents,
                endpoints=["/v1/chat/completions"],
                models=rng.choices(list(own["models"]), weights=list(own["models"].values()), k=20),
                end_users=EndUsers(1.0, pattern=pattern, salt=salt, pool=400),
                temperatures=own["temperatures"],
                max_tokens=own["max_tokens"],
            )
        )
        conduits.append(account.account_id)
    shared = sorted(
        {
            a.payment_fingerprint
            for a in members
            if sum(b.payment_fingerprint == a.payment_fingerprint for b in members) > 1
        }
    )
    world.groups_extra["distillation-network"] = {
        "conduit_resellers": conduits,
        "end_users": end_users,
        "shared_payment_fingerprints": shared,
        "signup_bursts": bursts_out,
        "signup_prefixes": sorted(f"{p}.0/24" for p in signup_prefixes),
        "release_chasing": {
            "model": NEW_MODEL,
            "released": NEW_MODEL_RELEASE,
            "switched_at": iso_seconds(switch),
        },
    }


def key_sharing_ring_add(world: Population, count: int) -> None:
    rng = world.rng
    country, tz = world.country()
    home = public_prefix(rng)
    ips = [host(rng, home), host(rng, home), host(rng, rng.choice(world.hosting_prefixes))]
    cards = [world.card() for _ in range(max(2, count - 2))]
    members = []
    for number in range(count):
        first, last = world.person()
        account = world.add(
            Account(
                account_id=world.new_id("acct_", 12),
                org_name=f"{first} {last}" if rng.random() < 0.6 else world.org_name(),
                email=world.personal_email(first, last, rng.choice(FREEMAIL)),
                created_ms=world.created_before_window("2025-08-01T00:00:00Z"),
                country=country,
                billing_country=country,
                payment_fingerprint=cards[number % len(cards)],
                signup_ip=host(rng, home) if rng.random() < 0.6 else host(rng, public_prefix(rng)),
                signup_user_agent=world.browser(),
                plan="tier-1",
                status="active",
                reseller=False,
                role="adversary",
                group="key-sharing-ring",
                kind="key_sharing_ring",
                tz=tz,
            )
        )
        account.keys = world.api_keys(1)
        members.append(account)
    all_keys = [account.keys[0] for account in members]
    prompts = TemplatePrompts(COMPILED["bulk"], [3.0, 2.0, 2.0, 1.5, 1.0])
    for account in members:
        borrowed = [key for key in all_keys if key != account.keys[0]]
        keys = [account.keys[0]] * 13 + rng.sample(borrowed, min(len(borrowed), 3)) * 2
        world.traffic["ring"].append(
            Traffic(
                account=account,
                weight=1.0,
                timing=FixedTiming(),
                prompts=prompts,
                keys=keys,
                ips=ips,
                user_agents=["python-requests/2.31.0"],
                endpoints=["/v1/chat/completions"],
                models=["frontier-2"] * 3 + ["frontier-2-mini"],
                temperatures=(0.9, 1.0),
                max_tokens=(2048,),
                rate_limited_share=0.04,
            )
        )
    world.groups_extra["key-sharing-ring"] = {
        "shared_api_keys": sorted(all_keys),
        "source_ips": sorted(ips),
        "rate_limit": next(plan for plan in PLANS if plan["plan"] == "tier-1"),
    }


def ring_schedule(world: Population, total: int) -> None:
    """Shifts: one account runs at ~85-95% of its token limit, stops, and within minutes
    the next takes over, so no single account is ever throttled for long."""
    rng = world.rng
    streams = world.traffic["ring"]
    if not streams:
        return
    tz = streams[0].account.tz
    shifts = max(3 * len(streams), round(total / 120))
    per_shift = largest_remainder(total, [rng.uniform(0.5, 1.5) for _ in range(shifts)])
    chain_lengths = largest_remainder(
        shifts, [rng.uniform(0.5, 1.5) for _ in range(max(2, shifts // 3))]
    )
    segment = WINDOW_MS // len(chain_lengths)
    index = 0
    current = rng.randrange(len(streams))
    for chain, length in enumerate(chain_lengths):
        for _ in range(20):  # the operators start work in their own daytime
            moment = chain * segment + rng.randrange(0, max(1, segment // 2))
            if 8 <= math.floor(moment / HOUR_MS + tz) % 24 <= 18:
                break
        for _ in range(length):
            # ~1,700 tokens a request against 40k tokens a minute: 20-23 requests a minute
            gap = 60_000 / rng.uniform(20.0, 23.0)
            planned = streams[current].timing.planned
            for _ in range(per_shift[index]):
                planned.append(min(int(moment), WINDOW_MS - 1))
                moment += gap * rng.uniform(0.6, 1.4)
            moment += rng.uniform(60_000, 8 * 60_000)
            current = rng.choice([i for i in range(len(streams)) if i != current])
            index += 1
    for stream in streams:
        stream.count = len(stream.timing.planned)
