"""Section 9 of the report: countermeasures and notice.

What the provider did (suspension, termination, blocks), when each step was taken, on
which clause and by whose decision, and whether the customer was told and given time to
cure before it: the facts a court weighs when it asks whether termination was fair and
proportionate. The public edition names no account, key, card, address or email; the
regulator's shortens cards and reduces emails to their domain, as elsewhere.
"""

from __future__ import annotations

from typing import Any

from casework.reports.sections.formatting import moment, n
from casework.reports.sections.source import Source

IN_FORCE = ("approved", "sent", "confirmed")


def _clause(clause: dict) -> str:
    return f"§{clause['path']} ({clause['document_title']}, version {clause['version']})"


def _targets(source: Source, action: dict) -> str:
    """Whom the action reached, as this edition may name them."""
    redactor = source.redactor
    parts = []
    accounts = action["accounts"]
    if accounts:
        if redactor.counsel:
            parts.append(", ".join(accounts))
        else:
            parts.append(f"{n(len(accounts))} account{'s' if len(accounts) != 1 else ''}")
    if action["key_ids"]:
        parts.append(f"{n(len(action['key_ids']))} API key(s)")
    cards = action["payment_fingerprints"]
    if cards:
        shown = [redactor.fingerprint(c) for c in cards]
        parts.append(
            f"payment method(s) {', '.join(shown)}"
            if all(shown)
            else f"{n(len(cards))} payment method(s)"
        )
    ranges = action["address_ranges"]
    if ranges:
        parts.append(f"{n(len(ranges))} address range(s)" if redactor.public else ", ".join(ranges))
    return "; ".join(parts) or "—"


def _notice_given(notices: list[dict], action: dict) -> dict[str, Any]:
    """The first notice sent that told the customer of the action, and what it gave."""
    told = [x for x in notices if x["delivery"] == "sent" and action["id"] in x["actions"]]
    if not told:
        return {"given": False, "text": "No notice of this action is recorded"}
    first = told[0]
    text = f"{first['kind_label']} {first['reference']}, sent {moment(first['delivered_at'])}"
    if first["deadline_kind"] == "cure":
        text += f"; {first['cure_days']} days to cure, to {moment(first['deadline_at'])}"
    return {"given": True, "text": text}


def countermeasures_section(source: Source) -> dict[str, Any]:
    data = source.data.get("countermeasures") or {"actions": [], "notices": []}
    redactor = source.redactor
    notices = data["notices"]
    actions = [
        {
            "kind": a["kind_label"],
            "state": a["state_label"],
            "clause": _clause(a["clause"]),
            "targets": _targets(source, a),
            "reason": redactor.text(a["reason"], field_name="action reason"),
            "proposed": f"{moment(a['proposed_at'])} by {a['proposed_by']}",
            "approved": (
                f"{moment(a['approved_at'])} by {a['approved_by']}" if a["approved_at"] else "—"
            ),
            "effective": moment(a["effective_at"]),
            "carried_out": (
                moment(a["confirmed_at"])
                if a["confirmed_at"]
                else (f"sent {moment(a['sent_at'])}" if a["sent_at"] else "—")
            ),
            "reversed": (
                f"{moment(a['reversed_at'])}: "
                f"{redactor.text(a['reversal_reason'], field_name='reversal reason')}"
                if a["reversed_at"]
                else ""
            ),
            "notice": _notice_given(notices, a),
        }
        for a in data["actions"]
    ]
    letters = [
        {
            "reference": x["reference"],
            "kind": x["kind_label"],
            "recipient": redactor.email(x["recipient"]),
            "issued": moment(x["issued_at"]),
            "delivery": (
                f"sent {moment(x['delivered_at'])}"
                if x["delivery"] == "sent"
                else ("sending failed" if x["delivery"] == "failed" else "not sent")
            ),
            "clauses": ", ".join(f"§{c['path']} (version {c['version']})" for c in x["clauses"]),
            "deadline": (
                f"{x['deadline_label']}: {moment(x['deadline_at'])}"
                + (f" ({x['cure_days']} days)" if x["cure_days"] else "")
                if x["deadline_kind"]
                else "—"
            ),
            "pdf_sha256": x["pdf_sha256"],
        }
        for x in notices
    ]
    in_force = [a for a in data["actions"] if a["state"] in IN_FORCE]
    cure = [x for x in notices if x["delivery"] == "sent" and x["deadline_kind"] == "cure"]
    return {
        "actions": actions,
        "notices": letters,
        "in_force": len(in_force),
        "reversed": sum(1 for a in data["actions"] if a["state"] == "reversed"),
        "notified": sum(1 for a in actions if a["notice"]["given"]),
        "cure_given": bool(cure),
        "cure_days": max((x["cure_days"] for x in cure), default=None),
    }


def countermeasure_events(source: Source) -> list[tuple[str, str, str]]:
    """The chronology's entries for actions, notices and the deadlines notices set."""
    data = source.data.get("countermeasures") or {"actions": [], "notices": []}
    events = []
    for a in data["actions"]:
        if a["approved_at"]:  # decided (a proposal takes no effect)
            events.append(
                (a["effective_at"], "enforcement",
                 f"{a['kind_label']} takes effect ({_targets(source, a)}), "
                 f"under §{a['clause']['path']}")
            )  # fmt: skip
        if a["reversed_at"]:
            events.append((a["reversed_at"], "enforcement", f"{a['kind_label']} reversed"))
    for x in data["notices"]:
        if x["delivery"] != "sent":
            continue
        events.append((x["delivered_at"], "notice", f"{x['kind_label']} {x['reference']} sent"))
        if x["deadline_at"]:
            events.append(
                (x["deadline_at"], "deadline",
                 f"{x['deadline_label']} ({x['kind_label'].lower()} {x['reference']})")
            )  # fmt: skip
    return events
