"""`python manage.py seed_demo --demo-mode`: the demo users and a loaded scenario (see
casework.demo). Without `--demo-mode` it refuses (exit 2): it makes users whose password is
public, so it must never run on a deployment's database by a slip of the command line."""

from __future__ import annotations

import io
from pathlib import Path

from casework.demo import (
    DEMO_PASSWORD,
    DemoError,
    demo_case_report,
    demo_counsel,
    demo_record_load,
    demo_scenario_ensure,
    demo_users_seed,
)
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = "Demo mode only: create the demo users and generate and load a synthetic scenario."

    def arguments(self, parser) -> None:
        parser.add_argument(
            "--demo-mode",
            action="store_true",
            help="Required: say that this database is a demo's (users with the public "
            f"password {DEMO_PASSWORD} are made here).",
        )
        parser.add_argument("--out", default="var/demo", help="Scenario folder.")
        parser.add_argument("--accounts", type=int, default=2000)
        parser.add_argument("--events", type=int, default=120_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--report",
            action="store_true",
            help="Also open the demo case and build its signed report (make demo does).",
        )

    def say(self, line: str) -> None:
        # Text goes out as each step ends: a first demo takes minutes, and the operator
        # should see how far it got. Under --json only the final document is printed.
        if not self.json_mode:
            self.stdout.write(line)

    def run(self, **options) -> None:
        if not options["demo_mode"]:
            self.usage_error(
                "--demo-mode: not given. seed_demo makes the users counsel, investigator, "
                f"viewer and expert with the public password {DEMO_PASSWORD} and loads a "
                "synthetic record, "
                "so it runs only when demo mode is asked for explicitly: seed_demo --demo-mode "
                "(make demo passes it)."
            )
        seeded = demo_users_seed()
        users = [u.username for u in seeded if u.demo_password]
        self._say_users(seeded)
        if options["report"]:
            try:  # before the record is loaded, so the refusal costs nothing
                demo_counsel()
            except DemoError as exc:
                self.usage_error(f"--report: {exc}")
        out_dir = Path(options["out"])
        scenario = demo_scenario_ensure(
            out_dir=out_dir,
            accounts=options["accounts"],
            events=options["events"],
            seed=options["seed"],
        )
        verb = "Reused" if scenario["reused"] else "Generated"
        self.say(f"{verb} the demo scenario in {out_dir}.")
        record = demo_record_load(scenario_dir=out_dir)
        for line in record:
            self.say(f"  {line}")
        document = {
            "users": users,
            "password": DEMO_PASSWORD,
            "users_seeded": [
                {"username": u.username, "outcome": u.outcome, "demo_password": u.demo_password}
                for u in seeded
            ],
            "scenario": {"out_dir": str(out_dir), **scenario},
            "record": record,
            "report": None,
        }
        if not options["report"]:
            self.done(document)
            return
        result = demo_case_report(
            scenario_dir=out_dir, stdout=io.StringIO() if self.json_mode else self.stdout
        )
        for line in result["lines"]:
            self.say(f"  {line}")
        job = result["job"]
        document["report"] = {
            "case": result["case"],
            "job": job.pk,
            "status": job.status,
            "failure_reason": job.failure_reason or None,
            "path": str(result["path"]) if job.status == "done" else None,
            "lines": result["lines"],
        }
        if job.status != "done":
            self.stderr.write(f"The demo report failed: {job.failure_reason}")
            self.done(document, ok=False)
        self.say(
            f"Demo report ({result['case']}, counsel edition, final, approved by counsel and "
            f"expert, marked DEMONSTRATION and signed with the DEMO certificate): "
            f"{result['path']} (its draft: report-counsel-draft.pdf beside it)"
        )
        self.done(document)

    def _say_users(self, seeded) -> None:
        made = [u.username for u in seeded if u.outcome == "created"]
        if made:
            self.say(f"Demo users {', '.join(made)} made (password {DEMO_PASSWORD}).")
        for user in seeded:
            if user.outcome == "kept":
                password = (
                    f"password {DEMO_PASSWORD}"
                    if user.demo_password
                    else "its password changed since, and left so"
                )
                self.say(f"Demo user {user.username} already made by the demo: kept ({password}).")
            elif user.outcome == "not the demo's":
                self.say(
                    f"User {user.username} exists and was not made by the demo: left as it is, "
                    "its password unchanged (it does not sign in with the demo password)."
                )
