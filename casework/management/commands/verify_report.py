"""`python manage.py verify_report PATH.pdf [--json] [--trust-root PEM ...]`.

Checks the signature (intact, trusted, covering the whole file), every attachment against
the manifest, and the manifest against the ledger. Exit status 1 when any check fails,
2 on usage errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from casework.reports.verify import report_verify


class Command(BaseCommand):
    help = "Verify a report PDF: its signature, its attachments and its manifest."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", metavar="PATH.pdf")
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")
        parser.add_argument(
            "--trust-root",
            action="append",
            default=[],
            metavar="PEM",
            help="A certificate to trust (default: PACTA_SIGNING_TRUST_ROOTS).",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"PATH {path}: no such file", returncode=2)
        for root in options["trust_root"]:
            if not Path(root).is_file():
                raise CommandError(f"--trust-root {root}: no such file", returncode=2)
        result = report_verify(path, trust_roots=options["trust_root"] or None)
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
        else:
            self.stdout.write(f"{path}: {'OK' if result['ok'] else 'FAILED'}")
            for check in result["checks"]:
                mark = "ok  " if check["ok"] else "FAIL"
                self.stdout.write(f"  {mark} {check['name']}: {check['detail']}")
        if not result["ok"]:
            sys.exit(1)
