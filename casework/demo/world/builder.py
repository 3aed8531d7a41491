"""Building the world: every cohort in a fixed order from one seed, then the exact number
of events shared among the cohorts and, within each, among its accounts' traffic."""

from __future__ import annotations

from casework.demo.world.adversaries import (
    distillation_network_add,
    key_sharing_ring_add,
    ring_schedule,
)
from casework.demo.world.benign import benign_add
from casework.demo.world.crowds import (
    carrier_nat_add,
    open_source_app_add,
    ordinary_habits_vary,
    tutoring_product_add,
)
from casework.demo.world.draws import largest_remainder
from casework.demo.world.lookalikes import (
    enterprise_add,
    evaluation_company_add,
    legitimate_reseller_add,
    university_add,
)
from casework.demo.world.population import Population
from casework.demo.world.shapes import CLASSIC, shape_check
from casework.demo.world.swarm import light_swarm_add
from casework.demo.world.vocabulary import LOOKALIKES


def world_build(*, accounts: int, events: int, seed: int, shape: str = CLASSIC) -> Population:
    """Every cohort's accounts and traffic, with each traffic stream's count of events.

    The cohorts draw in this order from one generator; changing the order changes every
    file a seed gives.
    """
    shape_check(shape)
    if shape != CLASSIC:
        return light_swarm_world_build(accounts=accounts, events=events, seed=seed)
    world = Population(accounts=accounts, events=events, seed=seed)
    n = accounts
    network = max(12, round(0.03 * n))
    ring = min(8, 4 + n // 2500)
    evaluation = 5
    university = max(12, min(200, n // 60))
    special = network + 2 + ring + evaluation + university + 1 + 1
    distillation_network_add(world, network)
    key_sharing_ring_add(world, ring)
    evaluation_company_add(world, evaluation)
    enterprise_add(world)
    university_add(world, university)
    legitimate_reseller_add(world)
    benign_add(world, n - special)
    events_allocate(world)
    return world


def light_swarm_world_build(*, accounts: int, events: int, seed: int) -> Population:
    """The classic cohorts, the light swarm (about 12% of the accounts) and the crowds that
    look coordinated without being so, each 1-3% of the accounts."""
    world = Population(accounts=accounts, events=events, seed=seed, shape="light-swarm")
    n = accounts
    network = max(12, round(0.03 * n))
    ring = min(8, 4 + n // 2500)
    evaluation = max(5, min(40, round(0.012 * n)))
    university = max(12, min(200, n // 60))
    resellers = max(3, min(12, n // 100))
    swarm = round(0.12 * n)
    app_users = carrier = eager = max(6, round(0.02 * n))
    tutoring = max(4, round(0.012 * n))
    special = network + 2 + ring + evaluation + 1 + university + resellers
    special += swarm + app_users + carrier + tutoring + eager
    distillation_network_add(world, network)
    key_sharing_ring_add(world, ring)
    evaluation_company_add(
        world, evaluation, judging=LOOKALIKES["evaluation_judging"], max_tokens=(256,)
    )
    enterprise_add(world)
    university_add(world, university)
    legitimate_reseller_add(world, resellers)
    benign_add(world, n - special)
    benign_add(world, eager, eager=True)
    open_source_app_add(world, app_users)
    carrier_nat_add(world, carrier)
    tutoring_product_add(world, tutoring)
    light_swarm_add(world, swarm)
    ordinary_habits_vary(world)
    events_allocate(world)
    return world


def events_allocate(world: Population) -> None:
    shares = world.event_shares
    cohorts = list(shares)
    totals = largest_remainder(world.total_events, [shares[c] for c in cohorts])
    for cohort, total in zip(cohorts, totals, strict=True):
        streams = world.traffic[cohort]
        if cohort == "ring":
            ring_schedule(world, total)
            continue
        weights = [stream.weight if stream.hi > stream.lo else 0.0 for stream in streams]
        if cohort == "benign" and total:
            # no single ordinary customer outgrows the high-volume enterprise
            for _ in range(3):
                ceiling = 0.012 * world.total_events * sum(weights) / total
                weights = [min(weight, ceiling) for weight in weights]
        counts = largest_remainder(total, weights)
        if sum(counts) != total:
            raise RuntimeError(f"cohort {cohort} cannot carry {total} events")
        for stream, count in zip(streams, counts, strict=True):
            stream.count = count
