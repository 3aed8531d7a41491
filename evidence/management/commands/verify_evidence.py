"""`python manage.py verify_evidence [--json]`: exit 1 when anything no longer matches."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from evidence.custody.verification import evidence_verify, verification_as_dict


class Command(BaseCommand):
    help = "Recompute the ledger chain and every record's hash; name what no longer matches."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options) -> None:
        run = evidence_verify(actor="system:cli")
        document = verification_as_dict(run)
        if options["json"]:
            self.stdout.write(json.dumps(document, indent=2))
        else:
            checked = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in run.checked.items())
            verdict = "OK" if run.ok else f"FAILED ({run.failures_total} failure(s))"
            self.stdout.write(f"Verification {run.pk}: {verdict}. Checked {checked}.")
            for failure in run.failures:
                self.stdout.write(
                    f"  {failure['object']} {failure['id']}: {failure['reason']} "
                    f"(expected {failure['expected']}, found {failure['found']})"
                )
        if not run.ok:
            sys.exit(1)
