"""`python manage.py verify_evidence [--json]`: exit 1 when anything no longer matches."""

from __future__ import annotations

from evidence.custody.verification import evidence_verify, verification_as_dict
from evidence.management.base import PactaCommand


class Command(PactaCommand):
    help = "Recompute the ledger chain and every record's hash; name what no longer matches."

    def run(self, **options) -> None:
        run = evidence_verify(actor="system:cli")
        checked = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in run.checked.items())
        verdict = "OK" if run.ok else f"FAILED ({run.failures_total} failure(s))"
        lines = [f"Verification {run.pk}: {verdict}. Checked {checked}."]
        lines += [
            f"  {failure['object']} {failure['id']}: {failure['reason']} "
            f"(expected {failure['expected']}, found {failure['found']})"
            for failure in run.failures
        ]
        self.done(verification_as_dict(run), text=lines, ok=run.ok)
