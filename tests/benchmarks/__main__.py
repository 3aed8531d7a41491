"""`make bench`: python -m tests.benchmarks [--events N] [--accounts N] [--seed S] [--rounds R].

`--only ingest` stops after the ingest figures (the later parts build on its rows);
`--only detect` skips the ingest figures, loads the scenario untimed and measures detection;
`--only quality` measures detection quality per family on the light-swarm and classic
worlds (part of the default run too); `--only production` loads the scenario untimed and
measures a production of the report's case beside its report (part of the default
run); `--only clauses` measures the clause categories against the hand-labelled gold file
(precision and recall per category; no database, part of the default run too);
`--only pages` loads a world of 5,000 accounts, opens a case from its largest critical
cluster and measures the pages counsel open every day (p50/p95/max beside /healthz; not
part of the default run);
`--only sync` measures the synchronised-activity null model on a simulated population with
planted rings (no database, part of the default run too);
`--only scale` (or `--scale`) draws the 1M -> 4M -> 16M curve, which is not part of
the default run (`--scale-sizes` picks the sizes)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from tests.benchmarks.harness import (
    ROOT,
    Table,
    bench_environment,
    database_drop,
    database_recreate,
    template_prepare,
)
from tests.benchmarks.scale import scale_sizes


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--only",
        choices=["ingest", "detect", "quality", "scale", "production", "clauses", "pages", "sync"],
        help=(
            "Run one part: ingest; detect on the scenario loaded untimed; quality per family "
            "on the light-swarm and classic worlds; scale, the detection curve (not in the "
            "default run); production, a production of the report's case beside its report; "
            "clauses, the clause categories against the hand-labelled gold file; pages, the "
            "case, cluster, timeline, clusters list and search pages at 5,000 accounts; sync, "
            "the synchronised-activity null model on a simulated population with planted rings."
        ),
    )
    parser.add_argument("--scale", action="store_true", help="The same as --only scale.")
    parser.add_argument(
        "--scale-sizes",
        default="1M,4M,16M",
        help="Event counts of the scale curve, comma-separated (1M, 4M, 16M, or plain numbers).",
    )
    parser.add_argument(
        "--scale-accounts", type=int, default=24_000, help="Accounts at every size of the curve."
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="Rounds of the ingest loads (medians reported)."
    )
    args = parser.parse_args()
    if args.scale:
        if args.only not in (None, "scale"):
            parser.error("--scale runs the scale curve alone; drop --only or use --only scale")
        args.only = "scale"
    try:
        sizes = scale_sizes(args.scale_sizes)
    except ValueError as error:
        parser.error(f"--scale-sizes: {error}")

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
    if args.only in (None, "sync"):
        from tests.benchmarks.sync_null import bench_sync_null

        print("sync null:", flush=True)
        bench_sync_null(table)
        if args.only == "sync":
            print()
            print(table.render())
            return 0
    if args.only in (None, "clauses"):
        from tests.benchmarks.clauses import bench_clauses

        print("clauses:", flush=True)
        bench_clauses(table)
        if args.only == "clauses":
            print()
            print(table.render())
            return 0
    if args.only in ("quality", "scale"):
        from tests.benchmarks.quality import bench_quality
        from tests.benchmarks.scale import bench_scale

        template = template_prepare(env)
        if args.only == "quality":
            print("quality:", flush=True)
            bench_quality(table, env=env, work=work, template=template)
        else:
            print("scale:", flush=True)
            bench_scale(
                table,
                env=env,
                work=work,
                template=template,
                sizes=sizes,
                accounts=args.scale_accounts,
                seed=args.seed,
            )
        database_drop(template)
        print()
        print(table.render())
        return 0
    if args.only == "pages":
        from tests.benchmarks.pages import bench_pages

        print("recreating the benchmark database ...", flush=True)
        database_recreate(env)
        call_command("migrate", verbosity=0)
        print("pages:", flush=True)
        bench_pages(table, env=env, work=work)
        print()
        print(table.render())
        return 0
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
        from tests.benchmarks.quality import bench_quality

        print("quality:", flush=True)
        template = template_prepare(env)
        bench_quality(table, env=env, work=work, template=template)
        database_drop(template)
        print("report:", flush=True)
        bench_report(table, env=env, work=work, scenario=scenario)
        print("case page:", flush=True)
        bench_case_page(table, reference=REFERENCE)
        from tests.benchmarks.timeline import bench_timeline

        print("timeline and search:", flush=True)
        bench_timeline(table, reference=REFERENCE)
    if args.only in (None, "production"):
        from tests.benchmarks.production import bench_production

        print("production:", flush=True)
        bench_production(table, env=env, work=work, scenario=scenario)
    print()
    print(table.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
