"""Ledger events of countermeasures: enforcement actions, indicator exchange and notices.

Kept beside `events` (which re-exports every one of them, so services still call
`events.<act>`) only to keep each module a size a reader holds; the rule is the same:
one function per act, with one definition of its payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidence.custody.canonical import utc_iso
from evidence.custody.ledger import (
    Actor,
    SystemActor,
    ledger_append,
    ledger_append_many,
)
from evidence.models import LedgerEntry

Action = LedgerEntry.Action


def _action_details(action: Any) -> dict[str, Any]:
    """An enforcement action as the ledger records it at each step: what, on whom, on which
    clause, from when, and who decided it."""
    clause = action.clause
    version = clause.version
    return {
        "case": action.case.reference,
        "kind": action.kind,
        "state": action.state,
        "clause": f"{version.document.slug}:{version.label}:{clause.path}",
        "accounts": sorted(a.account_id for a in action.accounts.all()),
        "key_ids": action.key_ids,
        "payment_fingerprints": action.payment_fingerprints,
        "address_ranges": action.address_ranges,
        "effective_at": utc_iso(action.effective_at),
        "proposed_by": action.proposed_by_label,
        "approved_by": action.approved_by_label or None,
    }


def enforcement_action_proposed(*, actor: Actor, action: Any) -> LedgerEntry:
    """Someone proposed an action against the respondent, with the reason given; the entry
    carries the clause's hash, so the term relied on is the term recorded."""
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="enforcement_action",
        object_id=action.pk,
        object_sha256=action.clause.text_sha256,
        details={**_action_details(action), "reason": action.reason},
    )


def enforcement_action_moved(
    *, actor: Actor, action: Any, previous: str, extra: Mapping[str, Any] | None = None
) -> LedgerEntry:
    """An action moved on (approved, sent, confirmed by the platform, reversed): the state
    it left, the one it reached, and what that step adds (channel, platform reference,
    reason for reversal)."""
    return ledger_append(
        actor=actor,
        action=Action.CHANGED,
        object_type="enforcement_action",
        object_id=action.pk,
        object_sha256=action.clause.text_sha256,
        details={**_action_details(action), "from": previous, **(extra or {})},
    )


def enforcement_handoff_settled(*, handoff: Any, reason: str = "") -> LedgerEntry:
    """The platform answered a hand-off for good: it confirmed (an undo, for a reversed
    action; a carried-out action is confirmed by `enforcement_action_moved`), or refused,
    or could not be reached after every retry, in which case the action stays where it was
    and the record says the platform was not told."""
    return ledger_append(
        actor=SystemActor.ENFORCEMENT,
        action=Action.CHANGED,
        object_type="enforcement_action",
        object_id=handoff.action_id,
        details={
            "case": handoff.action.case.reference,
            "handoff": handoff.transition,
            "status": handoff.status,
            "attempts": handoff.attempts,
            "idempotency_key": handoff.idempotency_key,
            "platform_reference": str(handoff.confirmation.get("reference", "")),
            "reason": reason[:500],
        },
    )


def enforcement_actions_exported(
    *, actor: Actor, case: Any, file_name: str, sha256: str, actions: list[int]
) -> LedgerEntry:
    """The case's actions were written to a CSV file for the platform's team."""
    return ledger_append(
        actor=actor,
        action=Action.EXPORTED,
        object_type="case",
        object_id=case.reference,
        object_sha256=sha256,
        details={"file_name": file_name, "enforcement_actions": actions},
    )


def sharing_partner_added(*, actor: Actor, partner: Any) -> LedgerEntry:
    """A partner to exchange indicators with, and the id of the key agreed (never the key)."""
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="sharing_partner",
        object_id=partner.name,
        details={"key_id": partner.key_id},
    )


def indicators_exchanged(*, actor: Actor, exchange: Any) -> LedgerEntry:
    """A bundle of indicators was shared with a partner (exported) or received from one
    (imported): with whom, under which marking and key, how many of each kind, and the
    SHA-256 of the bundle exactly as it left or arrived."""
    cluster = exchange.cluster
    return ledger_append(
        actor=actor,
        action=Action.EXPORTED if exchange.direction == "export" else Action.IMPORTED,
        object_type="indicator_exchange",
        object_id=exchange.pk,
        object_sha256=exchange.bundle_sha256,
        details={
            "partner": exchange.partner.name,
            "key_id": exchange.partner.key_id,
            "direction": exchange.direction,
            "cluster": cluster.identity if cluster else None,
            "detection_run": cluster.run_id if cluster else None,
            "tlp": exchange.tlp,
            "file_name": exchange.file_name,
            "counts": exchange.counts,
        },
    )


def accounts_seen_at_partner(
    *, actor: Actor, exchange: Any, kinds_by_account: Mapping[str, list[str]]
) -> list[LedgerEntry]:
    """A partner's indicators matched accounts: one entry under each account, so its
    custody history says where else it was seen, and by which kinds of indicator."""
    return ledger_append_many(
        actor=actor,
        entries=[
            {
                "action": Action.LINKED,
                "object_type": "account",
                "object_id": account_id,
                "details": {
                    "seen_at_partner": exchange.partner.name,
                    "indicator_exchange": exchange.pk,
                    "kinds": sorted(kinds),
                },
            }
            for account_id, kinds in sorted(kinds_by_account.items())
        ],
    )


def _notice_entry(actor: Actor, notice: Any, action: str, **details: Any) -> LedgerEntry:
    """A notice as the ledger records it at each step: what kind, to whom, on which clauses
    (each in the version quoted), of which actions, the deadline it set, and the step's own
    facts; anchored to the signed PDF's SHA-256 (the letter received matches the record)."""
    clauses = notice.clauses.select_related("version__document").order_by("pk")
    return ledger_append(
        actor=actor, action=action, object_type="notice", object_id=notice.pk,
        object_sha256=notice.pdf.sha256 if notice.pdf else "",
        details={
            "case": notice.case.reference, "notice": notice.reference, "kind": notice.kind,
            "recipient": notice.recipient,
            "clauses": [f"{c.version.document.slug}:{c.version.label}:{c.path}" for c in clauses],
            "actions": sorted(a.pk for a in notice.actions.all()),
            "deadline": notice.deadline_kind or None, "deadline_at": utc_iso(notice.deadline_at),
            **details,
        },
    )  # fmt: skip


def notice_issued(*, actor: Actor, notice: Any) -> LedgerEntry:
    """A notice was generated, signed and kept (not sent yet)."""
    return _notice_entry(actor, notice, Action.CREATED, cure_days=notice.cure_days,
                         pdf=notice.pdf.pk, issued_by=notice.issued_by_label)  # fmt: skip


def notice_delivery_recorded(*, actor: Actor, notice: Any) -> LedgerEntry:
    """Handed to the mail backend (which, and the message id), or sending failed and why."""
    return _notice_entry(actor, notice, Action.CHANGED, delivery=notice.delivery,
                         backend=notice.delivery_backend, message_id=notice.message_id,
                         error=notice.delivery_error[:500])  # fmt: skip


def notice_deadline_reminded(*, notice: Any, owners: list[str], overdue: bool) -> LedgerEntry:
    """The case's owners were reminded, once, of the deadline the notice set."""
    return _notice_entry(SystemActor.NOTICES, notice, Action.CHANGED, reminded=owners,
                         overdue=overdue)  # fmt: skip
