"""`python manage.py label_account ACCOUNT_ID --verdict confirmed_benign|confirmed_abusive
--reason TEXT [--json]`: record an investigator's verdict on an account."""

from __future__ import annotations

from evidence.custody.ledger import SystemActor
from evidence.labels import LabelError, Verdict, account_label
from evidence.management.base import PactaCommand

# How the operator named each input of the service.
ARGUMENTS = {"account_id": "ACCOUNT_ID", "verdict": "--verdict", "reason": "--reason"}


class Command(PactaCommand):
    help = (
        "Record that an account was confirmed benign or abusive, and why. Detection states "
        "its error rates on these labels; a change of mind is a new label."
    )

    def arguments(self, parser) -> None:
        parser.add_argument("account_id", metavar="ACCOUNT_ID")
        # Checked by the service, not argparse's `choices`, so a wrong verdict is a usage
        # error (exit 2) named like every other, however the command is called.
        parser.add_argument(
            "--verdict", required=True, help=f"One of: {', '.join(Verdict.values)}."
        )
        parser.add_argument(
            "--reason", required=True, help="What confirmed it (a call, a return, an admission)."
        )

    def run(self, *, account_id: str, verdict: str, reason: str, **options) -> None:
        try:
            label = account_label(
                actor=SystemActor.CLI, account_id=account_id, verdict=verdict, reason=reason
            )
        except LabelError as exc:
            self.usage_error(f"{ARGUMENTS[exc.field]}: {exc}")
        document = {
            "label": label.pk,
            "account_id": label.account.account_id,
            "verdict": label.verdict,
            "reason": label.reason,
            "actor": label.actor,
            "created_at": label.created_at.isoformat(),
        }
        self.done(
            document,
            text=f"Account {label.account.account_id} labelled {label.get_verdict_display()} "
            f"(label {label.pk}).",
        )
