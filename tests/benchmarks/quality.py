"""Detection quality per adversary family and per hard-negative kind (issue #16).

Worlds the tests never use (they use seeds 1-5): the light swarm on seeds 11, 12 and 13, and
the classic world on seed 11, each 3,000 accounts / 200,000 events by default, generated
once into var/bench and each loaded into a fresh database of its own (copied from a migrated
template). `manage.py detect --json` runs on each; only then are its bands read against the
world's labels.json, account by account.

Figures, per world:
- each adversary family (the labels' `kind`): the share of its accounts in a critical or high
  cluster (target >= 95%), and, for context, the share banded only "review";
- each hard-negative kind: how many of its accounts are in critical or high (target 0);
- ordinary customers: the share in critical or high (target <= 0.5%);
- the classic world: every adversary account flagged and no false accusation (100% / 0).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.harness import (
    BENCH_DB,
    Table,
    database_drop,
    database_environment,
    database_recreate,
    grid_render,
    manage,
    run_timed,
)
from tests.benchmarks.worlds import (
    World,
    detect_seconds_in_service,
    world_generate,
    world_load,
)

QUALITY_WORLDS = (("light-swarm", 11), ("light-swarm", 12), ("light-swarm", 13), ("classic", 11))
QUALITY_ACCOUNTS = 3_000
QUALITY_EVENTS = 200_000
FLAGGED = frozenset({"critical", "high"})
FAMILY_TARGET = 0.95
BENIGN_TARGET = 0.005
ROLE_ORDER = {"adversary": 0, "hard_negative": 1, "benign": 2}


@dataclass(frozen=True)
class GroupScore:
    """How detection banded one family (adversaries), kind (hard negatives) or the ordinary
    customers (every benign archetype together) of one world."""

    role: str
    kind: str
    accounts: int
    flagged: int  # in a critical or high cluster
    review: int  # in a cluster banded "review" and nothing higher

    @property
    def share(self) -> float:
        return self.flagged / self.accounts if self.accounts else 0.0

    def misses(self, *, classic: bool) -> str:
        """Why this group misses its target, or "" when it meets it."""
        if self.role == "adversary":
            bar = 1.0 if classic else FAMILY_TARGET
            if self.share < bar:
                return f"{self.kind} {self.share:.1%} flagged (target >= {bar:.0%})"
        elif self.role == "hard_negative":
            if self.flagged:
                return f"{self.kind} {self.flagged} flagged (target 0)"
        elif classic and self.flagged:
            return f"{self.flagged} ordinary customers flagged (target 0)"
        elif self.share > BENIGN_TARGET:
            return f"ordinary customers {self.share:.2%} flagged (target <= {BENIGN_TARGET:.1%})"
        return ""


def group_scores(report: dict, labels: dict) -> list[GroupScore]:
    """Score a `detect --json` report against a world's labels: one row per adversary
    family and hard-negative kind, and one for all ordinary customers, in that order.

    An account is banded by the highest band of any cluster holding it; an account in no
    cluster is in none."""
    rank = {"critical": 3, "high": 2, "review": 1, "none": 0}
    bands: dict[str, str] = {}
    for cluster in report["clusters"]:
        for account in cluster["accounts"]:
            if rank[cluster["band"]] > rank[bands.get(account, "none")]:
                bands[account] = cluster["band"]
    totals: Counter = Counter()
    flagged: Counter = Counter()
    review: Counter = Counter()
    for account, info in labels.items():
        key = (info["role"], "benign" if info["role"] == "benign" else info["kind"])
        totals[key] += 1
        band = bands.get(account, "none")
        flagged[key] += band in FLAGGED
        review[key] += band == "review"
    order = sorted(totals, key=lambda key: (ROLE_ORDER[key[0]], key[1]))
    return [GroupScore(*key, totals[key], flagged[key], review[key]) for key in order]


def quality_grid(columns: list[tuple[str, list[GroupScore]]], detect: list[str]) -> str:
    """One row per family or kind, one column per world: the table `make bench` prints."""
    keys = sorted(
        {(s.role, s.kind) for _, scores in columns for s in scores},
        key=lambda key: (ROLE_ORDER[key[0]], key[1]),
    )
    header = ("family / kind", "target", *(title for title, _ in columns))
    rows = []
    for role, kind in keys:
        if role == "adversary":
            label, target = f"adversary: {kind}", ">= 95% (classic 100%)"
        elif role == "hard_negative":
            label, target = f"hard negative: {kind}", "0 accounts"
        else:
            label, target = "ordinary customers", "<= 0.5% (classic 0)"
        cells = []
        for _, scores in columns:
            found = [s for s in scores if (s.role, s.kind) == (role, kind)]
            cells.append(_cell(found[0]) if found else "-")
        rows.append((label, target, *cells))
    rows.append(("detect (s)", "", *detect))
    return grid_render(header, rows)


def _cell(score: GroupScore) -> str:
    if score.role == "adversary":
        review = score.review / score.accounts if score.accounts else 0.0
        return f"{score.share:.1%} of {score.accounts:,} (review {review:.0%})"
    if score.role == "hard_negative":
        return f"{score.flagged} of {score.accounts:,}"
    return f"{score.share:.2%} ({score.flagged} of {score.accounts:,})"


def bench_quality(
    table: Table,
    *,
    env: dict[str, str],
    work: Path,
    template: str,
    accounts: int = QUALITY_ACCOUNTS,
    events: int = QUALITY_EVENTS,
) -> list[tuple[World, list[GroupScore]]]:
    results = []
    detect_times = []
    for shape, seed in QUALITY_WORLDS:
        world, _ = world_generate(
            work=work, shape=shape, accounts=accounts, events=events, seed=seed, env=env
        )
        database = f"{BENCH_DB}_q_{shape.replace('-', '_')}_{seed}"
        print(f"  {world.title}: loading into {database} ...", flush=True)
        database_recreate(env, database, template=template)
        try:
            world_load(world, database=database, env=env)
            detect = run_timed(manage("detect", "--json"), database_environment(env, database))
            report = json.loads(detect.stdout)
            service = detect_seconds_in_service(report["run"], database=database, env=env)
        finally:
            database_drop(database)
        (work / f"quality-{shape}-{seed}-report.json").write_text(detect.stdout)
        scores = group_scores(report, world.labels())
        results.append((world, scores))
        detect_times.append(f"{detect.seconds:.1f} (service {service:.1f})")
        classic = shape == "classic"
        misses = [m for s in scores if (m := s.misses(classic=classic))]
        adversaries = [s for s in scores if s.role == "adversary"]
        met = sum(not s.misses(classic=classic) for s in adversaries)
        false = sum(s.flagged for s in scores if s.role != "adversary")
        print(f"    {'meets every target' if not misses else 'misses: ' + '; '.join(misses)}")
        table.add(
            f"quality, {world.title} ({accounts:,} accounts / {events:,} events)",
            f"{met} of {len(adversaries)} families at target; lowest "
            + min(adversaries, key=lambda s: s.share).kind
            + f" {min(s.share for s in adversaries):.1%}",
            f"false accusations {false} (hard neg. "
            f"{sum(s.flagged for s in scores if s.role == 'hard_negative')})",
            "",
            "100% / 0" if classic else ">= 95% each, 0 hard neg., <= 0.5% benign",
        )
    print()
    print("Detection quality per family (critical or high; labels read only after the run):")
    print(quality_grid([(w.title, s) for w, s in results], detect_times))
    print()
    return results
