"""generate_scenario: write the deterministic synthetic world that tests, demos and
benchmarks ingest (accounts, usage, assent, terms, model catalogue and ground truth)."""

from __future__ import annotations

import json
from pathlib import Path

from casework.demo.world import MIN_ACCOUNTS, MIN_EVENTS, SHAPES, scenario_generate
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = (
        "Write a deterministic synthetic world into DIR: accounts.ndjson, usage.ndjson, "
        "assent.ndjson, terms/*.md, models.json, plans.json and labels.json (ground truth). "
        "The same arguments always give byte-identical files."
    )

    def arguments(self, parser) -> None:
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
        parser.add_argument(
            "--shape",
            default="classic",
            metavar="SHAPE",
            help=(
                "which world: classic (default) or light-swarm (the classic cohorts, a swarm "
                "of light accounts behind a residential proxy pool, and innocent crowds that "
                "look coordinated)"
            ),
        )

    def run(self, **options) -> None:
        out = Path(options["out"])
        accounts, events = options["accounts"], options["events"]
        if accounts < MIN_ACCOUNTS:
            self.usage_error(
                f"--accounts must be at least {MIN_ACCOUNTS} so every cohort fits (got {accounts})"
            )
        if events < MIN_EVENTS:
            self.usage_error(
                f"--events must be at least {MIN_EVENTS} so every cohort shows its pattern "
                f"(got {events})"
            )
        if options["shape"] not in SHAPES:
            self.usage_error(
                f"--shape must be one of {', '.join(SHAPES)} (got {options['shape']!r})"
            )
        if out.exists() and not out.is_dir():
            self.usage_error(f"--out {out} exists and is not a directory")

        summary = scenario_generate(
            out_dir=out,
            accounts=accounts,
            events=events,
            seed=options["seed"],
            shape=options["shape"],
        )

        roles = summary["accounts_by_role"]
        lines = [
            f"Wrote a {summary['shape']} synthetic world (seed {summary['seed']}) to "
            f"{summary['out_dir']} "
            f"in {summary['elapsed_seconds']:.1f} s, {summary['bytes_written'] / 1e6:.1f} MB.",
            f"  {summary['accounts']} accounts: {roles['benign']} benign, "
            f"{roles['hard_negative']} hard negatives, {roles['adversary']} adversary",
            f"  {summary['events']} usage events, {summary['assent_records']} assent records",
        ]
        for name, entry in summary["files"].items():
            counted = f"{entry['lines']:>9} lines" if "lines" in entry else " " * 15
            lines.append(f"  {name:<42} {counted} {entry['bytes']:>13,} bytes")
        lines.append("  labels.json is the ground truth: keep it away from detectors.")
        # The document keeps the key order it has always had (sorted at every level).
        self.done(json.loads(json.dumps(summary, sort_keys=True)), text=lines)
