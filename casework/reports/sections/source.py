"""The snapshot as every report section reads it: the data, the edition's redactor, the
table cap, and what several sections share (pseudonyms, detector names, Terms in force)."""

from __future__ import annotations

from casework.reports.redaction import Redactor, pseudonym
from casework.reports.sections.formatting import day


class Source:
    """One edition's reading of the snapshot; building it teaches the redactor what to hide."""

    def __init__(self, data, edition: str, redactor: Redactor, table_rows: int) -> None:
        self.data = data
        self.edition = edition
        self.redactor = redactor
        self.rows = table_rows
        accounts = data["accounts"]
        # Public edition: accounts named by their place in the report (by group, then id).
        ordered = sorted(accounts, key=lambda a: (a["group"], a["account_id"]))
        self.names = {a["account_id"]: pseudonym(i) for i, a in enumerate(ordered, start=1)}
        if not redactor.counsel:
            redactor.learn(
                (a["account_id"] for a in accounts),
                "[account]" if redactor.public else "[account id]",
            )
            if redactor.public:
                for a in accounts:
                    redactor.known[a["account_id"]] = self.names[a["account_id"]]
            redactor.learn((a["email"] for a in accounts), "[email]")
            redactor.learn((a["payment_fingerprint"] for a in accounts), "[payment fingerprint]")
            redactor.learn((a["signup_ip"] for a in accounts), "[IP address]")
            redactor.learn((r["ip"] for a in accounts for r in a["assent"]), "[IP address]")
            if redactor.public:
                redactor.learn((a["org_name"] for a in accounts), "[account name]")
            detection = data["detection"] or {}
            for row in [*detection.get("top_findings", []), *detection.get("top_links", [])]:
                redactor.learn(row.get("sample_request_ids") or [], "[request id]")
        self.conduct = (data["usage"]["totals"]["first_ts"], data["usage"]["totals"]["last_ts"])

    def account_name(self, account_id: str) -> str:
        return self.names[account_id] if self.redactor.public else account_id

    def window(self) -> str:
        case = self.data["case"]
        if case["window_start"] or case["window_end"]:
            return f"{day(case['window_start'])} to {day(case['window_end'])}"
        return "the whole record"

    def detector_names(self) -> dict[str, str]:
        detection = self.data["detection"] or {}
        return {d["code"]: d.get("name") or d["code"] for d in detection.get("detectors", [])}

    def in_force(self, versions: list[dict]) -> list[dict]:
        """Versions of one document in force at some moment of the conduct period."""
        first, last = (day(t) if t else None for t in self.conduct)
        ordered = sorted(versions, key=lambda v: v["effective_date"])
        result = []
        for i, version in enumerate(ordered):
            start = version["effective_date"]
            end = ordered[i + 1]["effective_date"] if i + 1 < len(ordered) else None
            if first is None:
                continue
            if start <= last and (end is None or end > first):
                result.append({**version, "until": end})
        return result
