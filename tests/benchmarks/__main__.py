"""`make bench`: python -m tests.benchmarks [--events N] [--accounts N] [--seed S] [--rounds R].

`--only ingest` stops after the ingest figures (the later parts build on its rows);
`--only detect` skips the ingest figures, loads the scenario untimed and measures detection."""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.benchmarks.harness import ROOT, Table, bench_environment, database_recreate


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--only",
        choices=["ingest", "detect"],
        help="Run one part: ingest, or detect on the scenario loaded untimed.",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="Rounds of the ingest loads (medians reported)."
    )
    args = parser.parse_args()

    env = bench_environment()
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casework.config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from casework.demo.world import scenario_generate

    work = ROOT / "var" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    scenario = work / f"scenario-{args.accounts}-{args.events}-{args.seed}"
    table = Table()
    if not (scenario / "labels.json").exists():
        print(f"generating the scenario ({args.events:,} events) ...", flush=True)
        start = time.perf_counter()
        summary = scenario_generate(
            out_dir=scenario, accounts=args.accounts, events=args.events, seed=args.seed
        )
        table.add(
            f"generate_scenario --events {args.events:,} (s)",
            f"{time.perf_counter() - start:.1f} s",
            f"{summary['bytes_written'] / 2**20:,.0f} MB written",
            "",
            "well under 60 s",
        )
    print("recreating the benchmark database ...", flush=True)
    database_recreate(env)
    call_command("migrate", verbosity=0)

    from tests.benchmarks.case_page import bench_case_page
    from tests.benchmarks.detect import bench_detect
    from tests.benchmarks.ingest import bench_ingest
    from tests.benchmarks.report import REFERENCE, bench_report

    if args.only in (None, "ingest"):
        print("ingest:", flush=True)
        bench_ingest(table, scenario=scenario, env=env, work=work, rounds=args.rounds)
    if args.only in (None, "detect"):
        print("detect:", flush=True)
        bench_detect(table, scenario=scenario, env=env, work=work)
    if args.only is None:
        print("report:", flush=True)
        bench_report(table, env=env, work=work, scenario=scenario)
        print("case page:", flush=True)
        bench_case_page(table, reference=REFERENCE)
    print()
    print(table.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
