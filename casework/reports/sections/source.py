"""The snapshot as every report section reads it: the data, the edition's redactor, the
table cap, and what several sections share (pseudonyms, detector names, Terms in force)."""

from __future__ import annotations

from casework.elements import versions_in_force
from casework.reports.redaction import Kind, Redactor, Rule
from casework.reports.sections.formatting import day


class Source:
    """One edition's reading of the snapshot; building it teaches the redactor what to hide
    and whom the staff usernames belong to."""

    def __init__(self, data, edition: str, redactor: Redactor, table_rows: int) -> None:
        self.data = data
        self.edition = edition
        self.redactor = redactor
        self.rows = table_rows
        accounts = data["accounts"]
        redactor.staff.update(data.get("staff") or {})
        # Free text (explanations, theories) may name any of these: each is replaced as the
        # edition's policy says, by the same pseudonym the tables and exhibits use.
        redactor.learn_kind(Kind.ACCOUNT, (a["account_id"] for a in accounts))
        redactor.learn_kind(Kind.EMAIL, (a["email"] for a in accounts))
        redactor.learn_kind(Kind.FINGERPRINT, (a["payment_fingerprint"] for a in accounts))
        redactor.learn_kind(Kind.IP, (a["signup_ip"] for a in accounts))
        redactor.learn_kind(Kind.IP, (r["ip"] for a in accounts for r in a["assent"]))
        redactor.learn_kind(Kind.ORGANISATION, (a["org_name"] for a in accounts))
        detection = data["detection"] or {}
        for row in [*detection.get("top_findings", []), *detection.get("top_links", [])]:
            redactor.learn_kind(Kind.REQUEST, row.get("sample_request_ids") or [])
            redactor.learn_kind(Kind.END_USER, row.get("end_users") or [])
        if redactor.rule(Kind.ACCOUNT) == Rule.PSEUDONYM:
            shown = {redactor.pseudonym(Kind.ACCOUNT, a["account_id"]) for a in accounts}
            if len(shown) != len(accounts):
                raise ValueError(
                    "two accounts of the case share a pseudonym (an HMAC collision, about "
                    "one in a million): the edition's pseudonym key must be replaced"
                )
        self.conduct = (data["usage"]["totals"]["first_ts"], data["usage"]["totals"]["last_ts"])

    def account_name(self, account_id: str) -> str:
        """How this edition names an account: its id, or its keyed pseudonym."""
        return self.redactor.account(account_id)

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
        return versions_in_force(versions, first, last)
