"""Synchronised-activity null model benchmark (issue #18): `make bench BENCH_ARGS="--only sync"`
or `python -m tests.benchmarks.sync_null [--suspects N --rings N ...]`.

A simulated population of suspects with their own restricted rhythms (some days, some hours,
some intervals in each) and planted rings whose members share one operator's intervals.
Figures, in the same run:
- the time `synchronised_pairs` takes (every pair's shared intervals in one matrix product,
  the within-hour circular-shift null for the pairs meeting the minimums, Benjamini-Hochberg,
  the Monte Carlo check of the linked pairs), against the least any pairwise method does:
  counting every pair's shared intervals one pair at a time, on bitsets;
- links found against the planted ring pairs (precision and recall).
"""

from __future__ import annotations

import argparse
import os
import time
import types

import django
import numpy as np

INTERVALS_PER_HOUR = 12
DAY0 = 1_767_225_600 // 86_400


def population(rng, suspects: int, rings: int, ring_size: int, days: int):
    """(accounts -> intervals, planted ring pairs)."""
    accounts: dict[str, list[int]] = {}

    def rhythm() -> list[int]:
        active_days = rng.choice(days, int(rng.integers(5, days)), replace=False)
        hours = rng.choice(24, int(rng.integers(1, 9)), replace=False)
        out = []
        for day in active_days:
            for hour in hours:
                if rng.random() < 0.7:
                    start = ((DAY0 + int(day)) * 24 + int(hour)) * INTERVALS_PER_HOUR
                    k = int(rng.integers(1, 9))
                    out.extend(int(start + i) for i in rng.choice(INTERVALS_PER_HOUR, k, False))
        return out

    for i in range(suspects):
        accounts[f"acct_s{i:04d}"] = rhythm()
    planted = set()
    for r in range(rings):
        operator = rhythm()
        members = [f"acct_ring{r:02d}_{m}" for m in range(ring_size)]
        for m in members:
            keep = rng.random(len(operator)) < 0.8  # each member runs most of the work
            accounts[m] = [b for b, k in zip(operator, keep, strict=True) if k]
        planted |= {(a, b) for a in members for b in members if a < b}
    return accounts, planted


def bench_sync_null(
    table, *, suspects=300, rings=5, ring_size=3, days=30, draws=9_999, seed=18
) -> None:
    """Add the figures to `table` (Django set up by the caller)."""
    from evidence.detectors.link_base import LinkContext
    from evidence.detectors.timing import SYNC_MIN_COMMON, synchronised_pairs

    rng = np.random.default_rng(seed)
    accounts, planted = population(rng, suspects, rings, ring_size, days)
    names = sorted(accounts)
    profiles = {
        a: {"pk": i, "email": f"{a}@m{i}.example", "country": "US", "created_at": None}
        for i, a in enumerate(names)
    }
    context = LinkContext(types.SimpleNamespace(profiles=profiles), set(names))

    started = time.perf_counter()
    first = min(min(v) for v in accounts.values() if v)
    bits = {}
    for a in names:
        value = 0
        for b in accounts[a]:
            value |= 1 << (b - first)
        bits[a] = value
    over = sum(
        (bits[x] & bits[y]).bit_count() >= SYNC_MIN_COMMON
        for i, x in enumerate(names)
        for y in names[i + 1 :]
    )
    baseline = time.perf_counter() - started

    started = time.perf_counter()
    links = synchronised_pairs(context, accounts, draws=draws)
    seconds = time.perf_counter() - started
    found = {(link.a, link.b) if link.a < link.b else (link.b, link.a) for link in links}
    true = len(found & planted)
    pairs = len(names) * (len(names) - 1) // 2
    tested = links[0].evidence["pairs_tested"] if links else 0
    print(
        f"  {len(names)} accounts, {pairs:,} pairs, {over:,} with {SYNC_MIN_COMMON}+ shared "
        f"intervals, {tested:,} tested, {len(planted)} planted ring pairs",
        flush=True,
    )
    table.add(
        "synchronised_pairs (s)",
        f"{seconds:.2f}",
        f"{baseline:.2f} (every pair's shared intervals, bitsets)",
        f"{seconds / baseline:.1f}x" if baseline else "—",
        "measured",
    )
    table.add(
        "sync null: precision on planted rings",
        f"{true}/{len(found)}",
        "—",
        f"{true / len(found):.2f}" if found else "—",
        "1.00",
    )
    table.add(
        "sync null: recall on planted rings (2 links per account at most)",
        f"{true}/{len(planted)}",
        "—",
        f"{true / len(planted):.2f}" if planted else "—",
        "measured",
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.sync_null")
    parser.add_argument("--suspects", type=int, default=300)
    parser.add_argument("--rings", type=int, default=5)
    parser.add_argument("--ring-size", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--draws", type=int, default=9_999)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casework.config.settings")
    django.setup()
    from tests.benchmarks.harness import Table

    table = Table()
    bench_sync_null(
        table,
        suspects=args.suspects,
        rings=args.rings,
        ring_size=args.ring_size,
        days=args.days,
        draws=args.draws,
        seed=args.seed,
    )
    print(table.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
