"""`python manage.py export_actions CASE_REF --out FILE [--send] [--json]`.

Writes the case's enforcement actions past proposal to a CSV file for the platform's
team (the alternative to the webhook), and ledgers the export. With `--send`, approved
actions are marked sent through this file.
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied

from casework.countermeasures.handoff import actions_export_csv
from casework.countermeasures.services import ActionError
from casework.models import Case
from evidence.custody.ledger import SystemActor
from evidence.management.base import CheckFailed, PactaCommand


class Command(PactaCommand):
    help = "Export a case's enforcement actions as CSV for the platform's team."

    def arguments(self, parser) -> None:
        parser.add_argument("case_ref", metavar="CASE_REF")
        parser.add_argument("--out", required=True, metavar="FILE")
        parser.add_argument(
            "--send", action="store_true", help="Mark approved actions sent through this file."
        )

    def run(self, **options) -> None:
        case = Case.objects.filter(reference=options["case_ref"]).first()
        if case is None:
            self.usage_error(f"CASE_REF {options['case_ref']}: no such case")
        try:
            document = actions_export_csv(
                actor=SystemActor.CLI, case=case, out=Path(options["out"]), send=options["send"]
            )
        except (ActionError, PermissionDenied) as exc:
            raise CheckFailed(str(exc)) from exc
        self.done(
            document,
            text=f"Wrote {document['actions']} action(s) of {case.reference} to "
            f"{document['file']} (SHA-256 {document['sha256']}).",
        )
