"""Investigator-confirmed labels: recording a verdict on an account, and which verdict rules.

Detection measures itself against these (`evidence.detectors.error_rates`): a provider's
own decided cases are the only ground truth a court can be shown besides generated worlds.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from evidence.access import RECORD_WRITER_ROLES, record_writer
from evidence.custody import events
from evidence.custody.ledger import Actor, actor_label
from evidence.models import Account, ConfirmedLabel

Verdict = ConfirmedLabel.Verdict
REASON_MAX = 5000
# What a user whose role may not add to the record hears, from the service or the API.
LABEL_REFUSED = (
    f"your role may not label accounts: labels are for the {', '.join(RECORD_WRITER_ROLES)} roles"
)


class LabelError(ValueError):
    """A label that cannot be recorded as asked; `field` names the input at fault
    (`account_id`, `verdict` or `reason`), so the command and the API can name it too."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def account_label(*, actor: Actor, account_id: str, verdict: str, reason: str) -> ConfirmedLabel:
    """Record that an investigator confirmed `account_id` benign or abusive, and why.

    Never edits an earlier verdict: a change of mind is a new row, ledgered with the
    verdict it replaces, in the same transaction. A person needs a role that may add to
    the record (the verdict is evidence under their name); the named system processes
    (the command line) act for the operator who ran them.
    """
    if not isinstance(actor, str) and (actor is None or not record_writer(actor)):
        raise PermissionDenied(LABEL_REFUSED)
    if verdict not in Verdict.values:
        raise LabelError(
            "verdict", f"unknown verdict {verdict!r}: use {' or '.join(Verdict.values)}"
        )
    reason = (reason or "").strip()
    if not reason:
        raise LabelError("reason", "a reason is required: say what confirmed the verdict")
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise LabelError("reason", f"the reason must be text of at most {REASON_MAX} characters")
    label_text, user_id = actor_label(actor)
    with transaction.atomic():
        # Locked so that two verdicts given at once are ledgered in the order they were
        # stored, each naming the one it replaced.
        account = Account.objects.select_for_update().filter(account_id=account_id).first()
        if account is None:
            raise LabelError("account_id", f"no account {account_id!r} in the record")
        previous = labels_current().filter(account=account).values_list("verdict", flat=True)
        previous = previous.first()
        label = ConfirmedLabel.objects.create(
            account=account,
            verdict=verdict,
            reason=reason,
            actor=label_text,
            actor_user_id=user_id,
            created_at=timezone.now(),
        )
        events.account_labelled(actor=actor, label=label, previous=previous)
    return label


def labels_current() -> QuerySet[ConfirmedLabel]:
    """The verdict in force for each labelled account: its latest label (ties by id).

    The one definition of "which verdict rules": error rates, the API and the command
    read it from here.
    """
    latest = (
        ConfirmedLabel.objects.filter(account=OuterRef("account"))
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    return ConfirmedLabel.objects.filter(pk=Subquery(latest))
