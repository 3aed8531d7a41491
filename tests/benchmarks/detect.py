"""Detection benchmark (issue: distillation and obfuscation detectors).

Figures, on the benchmark database holding the whole scenario, in the same run:
- `manage.py detect --json` against one `SELECT account_id, count(distinct request_id) ...
  GROUP BY account_id` scan through psql (issue #16: within 15x), each the median of 3 after
  an untimed run (detection's first run printed beside it);
- the same detection time (every detector, findings stored, ledgered; the command's wall
  time, process start included, and the service's own time) against one plain
  `SELECT account_id, count(*), sum(output_tokens) ... GROUP BY account_id` through psql on
  the same vacuumed, cached table (target <= 10x);
- two lower bounds on detection's time, beside the same baseline (see `_floor`): the bare
  GROUP BYs the signals need, on two connections at once, and the command's process start;
- the detect command's peak memory, its child process's included (target < 1 GB);
- precision and recall of the critical and high bands against the scenario's labels.json.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections import Counter
from operator import attrgetter
from pathlib import Path

from evidence.detectors.activity import HARVEST_SQL
from tests.benchmarks.harness import ROOT, Run, Table, manage, run_timed
from tests.benchmarks.ingest import psql_command

BASELINE_SQL = (
    "SELECT account_id, count(*), sum(output_tokens) FROM evidence_usageevent GROUP BY account_id"
)
# The baseline issue #16 names: one scan that must look at every request of every account
# (a distinct count sorts or hashes them), as population-level detection must.
DISTINCT_SQL = (
    "SELECT account_id, count(distinct request_id) FROM evidence_usageevent GROUP BY account_id"
)


def scan_seconds(sql: str, env: dict[str, str], *, database: str = "") -> float:
    """Median of three psql runs of ``sql``, after one untimed run that warms the cache (the
    same cache state detection meets)."""
    command = psql_command(sql, database=database)
    run_timed(command, env)
    return statistics.median(run_timed(command, env).seconds for _ in "123")


# The least SQL the signals need, split over two connections (detection, too, runs its passes
# on two). Each statement is a bare aggregate: no release windows, no link or sample queries, no
# lexicon matching, nothing stored. Whatever detection does, it does at least this, so the
# time is a lower bound on it (the cheapest arrangement found: the per-template figures are
# summed from the (account, template) rows instead of a second scan).
FLOOR_SQL = (
    "SET work_mem = '512MB'; SET hash_mem_multiplier = 8; "
    "CREATE TEMP TABLE floor_template AS SELECT account_id, prompt_template_key AS template, "
    "count(*) AS requests, min(id) AS first_id FROM evidence_usageevent "
    "WHERE prompt_template_key <> '' GROUP BY 1, 2; "
    "SELECT k.template, k.uses, k.accounts, u.prompt_excerpt FROM (SELECT template, "
    "sum(requests) AS uses, count(*) AS accounts, min(first_id) AS first_id "
    "FROM floor_template GROUP BY template) k JOIN evidence_usageevent u ON u.id = k.first_id",
    "SET work_mem = '512MB'; SET hash_mem_multiplier = 8; "
    "SELECT u.account_id, count(*), sum(u.input_tokens), sum(u.output_tokens), "
    f"count(*) FILTER (WHERE {HARVEST_SQL}), count(*) FILTER (WHERE u.status = 429), "
    "count(*) FILTER (WHERE u.end_user <> ''), min(u.ts), max(u.ts) "
    "FROM evidence_usageevent u GROUP BY u.account_id; "
    "SELECT account_id, source_ip, count(*) FROM evidence_usageevent GROUP BY 1, 2; "
    "SELECT account_id, api_key_id, count(*) FROM evidence_usageevent GROUP BY 1, 2; "
    "SELECT account_id, date_part('hour', ts AT TIME ZONE 'UTC')::int, count(*) "
    "FROM evidence_usageevent GROUP BY 1, 2",
)


def _floor(env: dict[str, str]) -> float:
    """Wall time of FLOOR_SQL: both connections started together, until both are done."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(psql_command(statements), cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        for statements in FLOOR_SQL
    ]
    if any([proc.wait() != 0 for proc in procs]):  # a list: wait for every one
        raise RuntimeError("the floor queries failed")
    return time.perf_counter() - start


def _stored(run: Run):
    """The detection run a `detect --json` run stored."""
    from evidence.models import DetectionRun

    return DetectionRun.objects.get(pk=json.loads(run.stdout)["run"])


def _service_seconds(stored) -> float:
    """The detection service's own time in a stored run (its start to its end)."""
    return (stored.finished_at - stored.started_at).total_seconds()


def _line_count(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _record_prepare(scenario: Path, env: dict[str, str]) -> int:
    """The whole scenario in the record: accounts, assent, models, every usage row.

    The ingest benchmark ends with only its REST sample in the usage table, and never loads
    accounts or assent; loading is not what this benchmark measures, so none of it is timed.
    """
    from django.db import connection

    for kind in ("accounts", "assent"):
        run_timed(manage("ingest", kind, str(scenario / f"{kind}.ndjson"), "--json"), env)
    run_timed(
        manage(
            "import_models", str(scenario / "models.json"), "--plans", str(scenario / "plans.json")
        ),
        env,
    )
    usage = scenario / "usage.ndjson"
    expected = _line_count(usage)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM evidence_usageevent")
        present = cursor.fetchone()[0]
    if present < expected:
        print(f"  loading the remaining {expected - present:,} usage rows ...", flush=True)
        run_timed(manage("ingest", "usage", str(usage), "--json"), env)
    with connection.cursor() as cursor:
        # What autovacuum leaves behind in production: statistics, visibility and hint
        # bits set, so neither the baseline nor detection pays for the load's first read.
        cursor.execute("VACUUM ANALYZE evidence_usageevent")
        cursor.execute("SELECT count(*) FROM evidence_usageevent")
        return cursor.fetchone()[0]


def _quality(report: dict, labels: dict) -> dict:
    bands = {
        account: cluster["band"]
        for cluster in report["clusters"]
        for account in cluster["accounts"]
    }
    roles = Counter(info["role"] for info in labels.values())
    flagged = Counter(
        info["role"]
        for account, info in labels.items()
        if bands.get(account) in ("critical", "high")
    )
    total = sum(flagged.values())
    return {
        "precision": flagged["adversary"] / total if total else 1.0,
        "recall": flagged["adversary"] / roles["adversary"] if roles["adversary"] else 1.0,
        "hard_negatives": flagged["hard_negative"],
        "benign_share": flagged["benign"] / roles["benign"] if roles["benign"] else 0.0,
        "adversaries": roles["adversary"],
    }


def bench_detect(table: Table, *, scenario: Path, env: dict[str, str], work: Path) -> dict:
    print("  preparing the record (accounts, assent, models, all usage) ...", flush=True)
    rows = _record_prepare(scenario, env)
    labels = json.loads((scenario / "labels.json").read_text())["accounts"]

    print("  baselines: one GROUP BY account scan through psql, plain and distinct ...", flush=True)
    baseline = scan_seconds(BASELINE_SQL, env)
    distinct = scan_seconds(DISTINCT_SQL, env)

    print("  lower bounds: the bare aggregates, and the command's start ...", flush=True)
    floor = statistics.median(_floor(env) for _ in "123")
    start = statistics.median(run_timed(manage("detect", "--help"), env).seconds for _ in "123")

    print("  Pacta detect --json: the first run, then the median of 3 more ...", flush=True)
    # Like the scans: their median of three comes after an untimed run, and detection's after
    # its first run (printed too: it also reads the (account, ts) index cold, which no scan
    # does). On this shared 2-core machine one run varies by a second or more.
    first = run_timed(manage("detect", "--json"), env)
    in_order = [run_timed(manage("detect", "--json"), env) for _ in "123"]
    runs = sorted(in_order, key=attrgetter("seconds"))
    pacta = runs[1]
    # Each run's wall time beside the service's own, in the order they ran: a run much
    # slower than its service time waited outside detection (start, commit, exit).
    print(
        "  detect runs (s, in order; the service's own in brackets): "
        + ", ".join(
            f"{r.seconds:.1f} ({_service_seconds(_stored(r)):.1f})" for r in (first, *in_order)
        ),
        flush=True,
    )
    report = json.loads(pacta.stdout)
    (work / "detect-report.json").write_text(pacta.stdout)
    run = _stored(pacta)
    in_process = _service_seconds(run)
    print(f"  phases (s): {run.counts.get('seconds')}", flush=True)

    table.add(
        f"detect, {rows:,} events / {len(labels):,} accounts (s)",
        f"{pacta.seconds:.1f} s (service {in_process:.1f} s)",
        f"count(distinct request_id) scan {distinct:.2f} s",
        f"{pacta.seconds / distinct:.1f}x",
        "within 15x",
    )
    table.add(
        "  its first run after the load",
        f"{first.seconds:.1f} s",
        f"count(distinct request_id) scan {distinct:.2f} s",
        f"{first.seconds / distinct:.1f}x",
        "(context)",
    )
    table.add(
        "  the same, against the plain count(*) scan",
        f"{pacta.seconds:.1f} s",
        f"GROUP BY account scan {baseline:.2f} s",
        f"{pacta.seconds / baseline:.1f}x",
        "<= 10x",
    )
    table.add(
        "  lower bound: the bare aggregates (2 connections)",
        f"{floor:.2f} s",
        f"GROUP BY account scan {baseline:.2f} s",
        f"{floor / baseline:.1f}x",
        "(context)",
    )
    table.add(
        "  lower bound: + the command's start (detect --help)",
        f"{floor + start:.2f} s ({start:.2f} s start)",
        f"GROUP BY account scan {baseline:.2f} s",
        f"{(floor + start) / baseline:.1f}x",
        "(context)",
    )
    peak = max(r.max_rss_mb for r in (first, *runs))
    table.add("detect peak memory (the largest of the runs)", f"{peak:,.0f} MB", "", "", "< 1 GB")
    quality = _quality(report, labels)
    print(
        f"  precision {quality['precision']:.1%}, recall {quality['recall']:.1%} "
        f"({quality['adversaries']} adversary accounts); hard negatives flagged "
        f"{quality['hard_negatives']}; ordinary customers flagged {quality['benign_share']:.2%}",
        flush=True,
    )
    table.add(
        "detect precision / recall (critical + high)",
        f"{quality['precision']:.1%} / {quality['recall']:.1%}",
        f"hard negatives {quality['hard_negatives']}, benign {quality['benign_share']:.2%}",
        "",
        "recall >= 95%, 0 hard neg., <= 0.5% benign",
    )
    return {
        "seconds": pacta.seconds,
        "baseline": baseline,
        "distinct_baseline": distinct,
        "floor": floor,
        **quality,
    }
