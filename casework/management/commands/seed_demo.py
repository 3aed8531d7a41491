"""`python manage.py seed_demo`: the demo users and a loaded scenario (see casework.demo)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from casework.demo import (
    DEMO_PASSWORD,
    demo_case_report,
    demo_record_load,
    demo_scenario_ensure,
    demo_users_seed,
)


class Command(BaseCommand):
    help = "Demo mode only: create the demo users and generate and load a synthetic scenario."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", default="var/demo", help="Scenario folder.")
        parser.add_argument("--accounts", type=int, default=2000)
        parser.add_argument("--events", type=int, default=120_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--report",
            action="store_true",
            help="Also open the demo case and build its signed report (make demo does).",
        )

    def handle(self, *args, **options) -> None:
        users = demo_users_seed()
        self.stdout.write(f"Demo users {', '.join(users)} (password {DEMO_PASSWORD}).")
        out_dir = Path(options["out"])
        scenario = demo_scenario_ensure(
            out_dir=out_dir,
            accounts=options["accounts"],
            events=options["events"],
            seed=options["seed"],
        )
        verb = "Reused" if scenario["reused"] else "Generated"
        self.stdout.write(f"{verb} the demo scenario in {out_dir}.")
        for line in demo_record_load(scenario_dir=out_dir):
            self.stdout.write(f"  {line}")
        if options["report"]:
            result = demo_case_report(scenario_dir=out_dir, stdout=self.stdout)
            for line in result["lines"]:
                self.stdout.write(f"  {line}")
            job = result["job"]
            if job.status != "done":
                self.stderr.write(f"The demo report failed: {job.failure_reason}")
                raise SystemExit(1)
            self.stdout.write(
                f"Demo report ({result['case']}, counsel edition, signed with the DEMO "
                f"certificate): {result['path']}"
            )
