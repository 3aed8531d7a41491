"""Ledger events of reports' review and sign-off (issue #18): reviewers' decisions on
drafts, and the declarant a case names for its final reports.

Kept beside `events` (which re-exports them, so services still call `events.<act>`) only to
keep each module a size a reader holds; one function per act, one definition of its payload.
"""

from __future__ import annotations

from typing import Any

from evidence.custody.canonical import utc_iso
from evidence.custody.ledger import Actor, ledger_append
from evidence.models import LedgerEntry

Action = LedgerEntry.Action


def report_reviewed(*, actor: Actor, review: Any) -> LedgerEntry:
    """A reviewer approved or rejected a draft report, for the part they answer for (counsel:
    the whole report; the expert: its methods). The entry carries the draft's snapshot
    hash: an approval is of that snapshot, and of nothing built since."""
    job = review.job
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="report_review",
        object_id=review.pk,
        object_sha256=job.snapshot_sha256,
        details={
            "case": job.case.reference,
            "job": job.pk,
            "edition": job.edition,
            "reviewer": review.reviewer.get_username(),
            "role": review.role,
            "scope": review.scope,
            "decision": review.decision,
            "comment": review.comment,
            "at": utc_iso(review.at),
        },
    )


def case_declarant_set(*, actor: Actor, case: Any, declarant: dict[str, str]) -> LedgerEntry:
    """The case named (or, all blank, stopped naming) the custodian who declares its final
    reports; what it names is what those reports print. Its own object type: the declarant
    is not part of the case a report freezes, so naming one never makes a new snapshot
    (and so a new draft to review); a final report's ledger extract carries the entry."""
    return ledger_append(
        actor=actor,
        action=Action.CHANGED,
        object_type="case_declarant",
        object_id=case.reference,
        details={"declarant": declarant},
    )
