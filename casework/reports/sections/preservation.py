"""Section 10 of the report: preservation and the chain of custody."""

from __future__ import annotations

from collections import Counter
from typing import Any

from casework.reports.sections.formatting import Capped, moment, n
from casework.reports.sections.source import Source


def preservation_section(source: Source) -> dict[str, Any]:
    data = source.data
    batches = sorted(data["batches"], key=lambda b: (-b["case_usage_rows"], b["id"]))
    batch_rows = Capped(
        (
            {
                "id": b["id"],
                "kind": b["kind"],
                "file_name": source.redactor.text(b["file_name"], field_name="file name"),
                "sha256": b["raw_sha256"],
                "received": moment(b["started_at"]),
                "collector": b["collector"],
                "accepted": n(b["accepted"]),
                "rejected": n(b["rejected"]),
                "case_rows": n(b["case_usage_rows"]),
            }
            for b in batches
        ),
        limit=source.rows,
    )
    kinds = Counter(b["kind"] for b in data["batches"])
    verification = data["verification"]
    if verification:
        verification = {
            **verification,
            "finished_at": moment(verification["finished_at"]),
            "seconds": verification["checked"].get("seconds", "—"),
            "checked": [
                {"what": k.replace("_", " "), "count": n(v) if isinstance(v, int) else v}
                for k, v in sorted(verification["checked"].items())
                if k != "seconds"
            ],
            "failures": [
                {
                    "object": f.get("object"),
                    "id": source.redactor.text(str(f.get("id"))),
                    "reason": f.get("reason"),
                }
                for f in verification["failures"]
            ],
        }
    custody = data["custody"]
    return {
        "batches": batch_rows,
        "batch_kinds": ", ".join(f"{k}: {c}" for k, c in sorted(kinds.items())),
        "verification": verification,
        "legal_hold": data["case"]["legal_hold"],
        "legal_hold_since": moment(data["case"]["legal_hold_since"]),
        "case_history": [
            {**e, "at": moment(e["at"])} for e in custody["case"]
        ],
        "accounts_linked": n(custody["accounts_linked"]),
        "linked_seq": (custody["accounts_linked_first_seq"],
                       custody["accounts_linked_last_seq"]),
        "files": [
            {
                "name": source.redactor.text(f["file_name"], field_name="file name"),
                "sha256": f["sha256"],
                "history": [{**h, "at": moment(h["at"])} for h in f["history"]],
            }
            for f in custody["files"]
        ],
    }  # fmt: skip
