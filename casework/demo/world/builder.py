"""Building the world: every cohort in a fixed order from one seed, then the exact number
of events shared among the cohorts and, within each, among its accounts' traffic."""

from __future__ import annotations

from casework.demo.world.adversaries import (
    distillation_network_add,
    key_sharing_ring_add,
    ring_schedule,
)
from casework.demo.world.archetypes import EVENT_SHARES
from casework.demo.world.benign import benign_add
from casework.demo.world.draws import largest_remainder
from casework.demo.world.lookalikes import (
    enterprise_add,
    evaluation_company_add,
    legitimate_reseller_add,
    university_add,
)
from casework.demo.world.population import Population


def world_build(*, accounts: int, events: int, seed: int) -> Population:
    """Every cohort's accounts and traffic, with each traffic stream's count of events.

    The cohorts draw in this order from one generator; changing the order changes every
    file a seed gives.
    """
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


def events_allocate(world: Population) -> None:
    cohorts = list(EVENT_SHARES)
    totals = largest_remainder(world.total_events, [EVENT_SHARES[c] for c in cohorts])
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
