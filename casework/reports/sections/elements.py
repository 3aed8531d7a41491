"""Section 5's elements checklist: each allegation's elements, supported or not, citing this
edition's exhibits, and the flags of the case (the rule is `casework.elements`)."""

from __future__ import annotations

from typing import Any

from casework.elements import as_data, elements_check, facts_from_snapshot
from casework.reports.sections.formatting import CATEGORY_LABELS, n
from casework.reports.sections.source import Source

# The public edition carries aggregates only: the rows an element rests on are cited in
# the summary exhibit that counts them (or the section that states them), never listed.
PUBLIC_EXHIBITS = {
    "assent.csv": "accounts-summary.csv",
    "accounts.csv": "accounts-summary.csv",
    "findings.csv": "findings-summary.csv",
    "links.csv": None,
    "usage.csv": "daily.csv",
}
PUBLIC_SECTIONS = {"links.csv": "Parties and attribution"}


def _reference(source: Source, ref: dict[str, Any]) -> dict[str, Any]:
    exhibit, section = ref["exhibit"], ref["section"]
    keys = ref["keys"]
    if source.redactor.public and exhibit in PUBLIC_EXHIBITS:
        section = section or PUBLIC_SECTIONS.get(exhibit, "")
        exhibit = PUBLIC_EXHIBITS[exhibit]
        if ref["key"] == "account_id":
            keys = []
    if ref["key"] == "account_id":
        keys = [source.account_name(k) for k in keys]
    shown = ", ".join(keys)
    if shown and ref["rows"] is not None and ref["rows"] > len(keys):
        shown += ", …"
    return {
        "exhibit": exhibit,
        "section": section,
        "rows": n(ref["rows"]) if ref["rows"] is not None else "",
        "key": ref["key"] if keys else "",
        "keys": shown,
        "what": source.redactor.text(ref["what"], field_name="elements checklist"),
    }


def _flag(source: Source, flag: dict[str, Any]) -> dict[str, Any]:
    accounts = [] if source.redactor.public else flag["accounts"]
    return {
        "code": flag["code"],
        "label": flag["label"],
        "statement": source.redactor.text(flag["statement"], field_name="elements checklist"),
        "accounts": ", ".join(source.account_name(a) for a in accounts),
        "more": flag["accounts_total"] > len(accounts) and bool(accounts),
    }


def elements_section(source: Source) -> dict[str, Any]:
    checklist = as_data(elements_check(facts_from_snapshot(source.data)))
    allegations = []
    for number, allegation in enumerate(checklist["allegations"], start=1):
        allegations.append(
            {
                "number": number,
                "path": allegation["path"],
                "category": CATEGORY_LABELS.get(allegation["category"], allegation["category"]),
                "elements": [
                    {
                        "key": e["key"],
                        "label": e["label"],
                        "status": e["status"],
                        "status_label": e["status_label"],
                        "statement": source.redactor.text(
                            e["statement"], field_name="elements checklist"
                        ),
                        "references": [_reference(source, r) for r in e["references"]],
                    }
                    for e in allegation["elements"]
                ],
                "flags": [_flag(source, f) for f in allegation["flags"]],
            }
        )
    return {"allegations": allegations, "flags": [_flag(source, f) for f in checklist["flags"]]}
