"""Ledger events of the screens accounts saw: a screenshot or archived sign-up flow
recorded as the screen of a flow version, and linked to the assent records naming it.

Kept beside `events` for the same reason as `countermeasure_events`; one function per act.
"""

from __future__ import annotations

from typing import Any

from evidence.custody.canonical import utc_iso
from evidence.custody.ledger import Actor, ledger_append
from evidence.models import LedgerEntry

Action = LedgerEntry.Action


def assent_screen_linked(*, actor: Actor, screen: Any, assent_records: int) -> LedgerEntry:
    """A kept file was recorded as the screen of a sign-up flow version and linked, by its
    hash, to the assent records that name it (the count at the time of linking)."""
    version = screen.terms_version
    return ledger_append(
        actor=actor,
        action=Action.LINKED,
        object_type="assent_screen",
        object_id=screen.pk,
        object_sha256=screen.sha256,
        details={
            "evidence_item": screen.item_id,
            "kind": screen.kind,
            "media_type": screen.media_type,
            "flow_id": screen.flow_id,
            "terms_version": f"{version.document.slug}:{version.label}" if version else None,
            "shown_from": utc_iso(screen.shown_from) if screen.shown_from else None,
            "shown_until": utc_iso(screen.shown_until) if screen.shown_until else None,
            "assent_records": assent_records,
        },
    )
