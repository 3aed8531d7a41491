"""generate_scenario: write the deterministic synthetic world that tests, demos and
benchmarks ingest (accounts, usage, assent, terms, model catalogue and ground truth)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from evidence.scenario import MIN_ACCOUNTS, MIN_EVENTS, scenario_generate

USAGE_ERROR = 2  # DESIGN.md: exit status 2 on usage errors


class Command(BaseCommand):
    help = (
        "Write a deterministic synthetic world into DIR: accounts.ndjson, usage.ndjson, "
        "assent.ndjson, terms/*.md, models.json, plans.json and labels.json (ground truth). "
        "The same arguments always give byte-identical files."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=Path, metavar="DIR")
        parser.add_argument(
            "--accounts",
            type=int,
            default=2000,
            metavar="N",
            help=f"number of accounts (at least {MIN_ACCOUNTS}; default 2000)",
        )
        parser.add_argument(
            "--events",
            type=int,
            default=100_000,
            metavar="N",
            help=f"exact number of usage events (at least {MIN_EVENTS}; default 100000)",
        )
        parser.add_argument("--seed", type=int, default=1, metavar="S")
        parser.add_argument("--json", action="store_true", help="print one JSON document")

    def handle(self, *args, **options):
        out = Path(options["out"])
        accounts, events = options["accounts"], options["events"]
        if accounts < MIN_ACCOUNTS:
            raise CommandError(
                f"--accounts must be at least {MIN_ACCOUNTS} so every cohort fits (got {accounts})",
                returncode=USAGE_ERROR,
            )
        if events < MIN_EVENTS:
            raise CommandError(
                f"--events must be at least {MIN_EVENTS} so every cohort shows its pattern "
                f"(got {events})",
                returncode=USAGE_ERROR,
            )
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out} exists and is not a directory", returncode=USAGE_ERROR)

        summary = scenario_generate(
            out_dir=out, accounts=accounts, events=events, seed=options["seed"]
        )

        if options["json"]:
            self.stdout.write(json.dumps(summary, sort_keys=True))
            return
        roles = summary["accounts_by_role"]
        self.stdout.write(
            f"Wrote a synthetic world (seed {summary['seed']}) to {summary['out_dir']} "
            f"in {summary['elapsed_seconds']:.1f} s, {summary['bytes_written'] / 1e6:.1f} MB."
        )
        self.stdout.write(
            f"  {summary['accounts']} accounts: {roles['benign']} benign, "
            f"{roles['hard_negative']} hard negatives, {roles['adversary']} adversary"
        )
        self.stdout.write(
            f"  {summary['events']} usage events, {summary['assent_records']} assent records"
        )
        for name, entry in summary["files"].items():
            lines = f"{entry['lines']:>9} lines" if "lines" in entry else " " * 15
            self.stdout.write(f"  {name:<42} {lines} {entry['bytes']:>13,} bytes")
        self.stdout.write("  labels.json is the ground truth: keep it away from detectors.")
