"""What the provider did about the case besides suing, as the snapshot freezes it: the
enforcement actions (what, on whom, on which clause, decided by whom, and when each step
was taken) and the notices given to the respondent (when, of what, with which deadline).

Read through the case's own relations (`case.enforcement_actions`, `case.notices`): the
countermeasures package renders its notices with the report's helpers, so the report
side does not import it back.
"""

from __future__ import annotations

from typing import Any

from casework.models import Case
from casework.reports.snapshot.values import iso


def _clause(clause) -> dict[str, Any]:
    version = clause.version
    return {
        "document": version.document.slug,
        "document_title": version.document.title,
        "version": version.label,
        "path": clause.path,
        "text_sha256": clause.text_sha256,
    }


def countermeasures_collect(case: Case) -> dict[str, Any]:
    actions = (
        case.enforcement_actions.select_related("clause__version__document")
        .prefetch_related("accounts")
        .order_by("proposed_at", "pk")
    )
    notices = (
        case.notices.select_related("pdf")
        .prefetch_related("clauses__version__document", "actions")
        .order_by("issued_at", "pk")
    )
    return {
        "actions": [
            {
                "id": a.pk,
                "kind": a.kind,
                "kind_label": a.get_kind_display(),
                "state": a.state,
                "state_label": a.get_state_display(),
                "clause": _clause(a.clause),
                "reason": a.reason,
                "accounts": sorted(x.account_id for x in a.accounts.all()),
                "key_ids": a.key_ids,
                "payment_fingerprints": a.payment_fingerprints,
                "address_ranges": a.address_ranges,
                "effective_at": iso(a.effective_at),
                "proposed_by": a.proposed_by_label,
                "proposed_at": iso(a.proposed_at),
                "approved_by": a.approved_by_label,
                "approved_at": iso(a.approved_at),
                "sent_at": iso(a.sent_at),
                "sent_via": a.sent_via,
                "confirmed_at": iso(a.confirmed_at),
                "reversed_at": iso(a.reversed_at),
                "reversal_reason": a.reversal_reason,
            }
            for a in actions
        ],
        "notices": [
            {
                "id": n.pk,
                "reference": n.reference,
                "kind": n.kind,
                "kind_label": n.get_kind_display(),
                "recipient": n.recipient,
                "issued_at": iso(n.issued_at),
                "issued_by": n.issued_by_label,
                "delivery": n.delivery,
                "delivered_at": iso(n.delivered_at),
                "cure_days": n.cure_days,
                "deadline_kind": n.deadline_kind,
                "deadline_label": n.get_deadline_kind_display() if n.deadline_kind else "",
                "deadline_at": iso(n.deadline_at),
                "clauses": [_clause(c) for c in sorted(n.clauses.all(), key=lambda c: c.pk)],
                "actions": sorted(a.pk for a in n.actions.all()),
                "pdf_sha256": n.pdf.sha256 if n.pdf else None,
            }
            for n in notices
        ],
    }
