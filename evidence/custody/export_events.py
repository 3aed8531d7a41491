"""Ledger events of what a case's members take away from it as files they build on the
spot (the case timeline as CSV), beside `events` to keep each module a size a reader holds.

The rule is `events`'s: one function per act, with one definition of its payload. An
export from a case is part of its access audit (who took what, when), like a download.
"""

from __future__ import annotations

from typing import Any

from evidence.custody.ledger import Actor, ledger_append
from evidence.models import LedgerEntry


def case_timeline_exported(
    *, actor: Actor, case: Any, file_name: str, sha256: str, rows: int, groups: list[str]
) -> LedgerEntry:
    """The case's timeline, as the actor may see it, left as a CSV file; the entry anchors
    the file's SHA-256, so a copy handed over can be matched to who took it and when."""
    return ledger_append(
        actor=actor,
        action=LedgerEntry.Action.EXPORTED,
        object_type="case",
        object_id=case.reference,
        object_sha256=sha256,
        details={
            "case": case.reference,
            "export": "timeline",
            "file_name": file_name,
            "rows": rows,
            "groups": groups,
        },
    )
