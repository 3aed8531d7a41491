"""Section 4 of the report: contract formation, the Terms in force and who accepted them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from casework.reports.formation_exhibits import terms_text_exhibit_name
from casework.reports.sections.formatting import Capped, day, moment, n
from casework.reports.sections.screens import formation_screens
from casework.reports.sections.source import Source


def formation_section(source: Source) -> dict[str, Any]:
    data = source.data
    accounts = data["accounts"]
    versions = [
        {
            "document": t["document"],
            "title": t["title"],
            "version": t["version"],
            "effective_date": t["effective_date"],
            "sha256": t["text_sha256"],
            "clauses": n(t["clauses"]),
        }
        for t in data["terms"]
    ]
    by_doc = defaultdict(list)
    for version in versions:
        by_doc[version["document"]].append(version)
    in_force = {doc: source.in_force(vs) for doc, vs in by_doc.items()}
    summary = defaultdict(
        lambda: {
            "accounts": set(),
            "records": 0,
            "first": None,
            "last": None,
            "networks": set(),
        }
    )
    for a in accounts:
        for r in a["assent"]:
            entry = summary[(r["terms"], r["version"], r["method"])]
            entry["accounts"].add(a["account_id"])
            entry["records"] += 1
            entry["first"] = min(filter(None, (entry["first"], r["accepted_at"])))
            entry["last"] = max(filter(None, (entry["last"], r["accepted_at"])))
            if r["ip"]:
                entry["networks"].add(r["ip"].rsplit(".", 1)[0])
    assent = [
        {
            "document": doc,
            "version": version,
            "method": method,
            "accounts": n(len(e["accounts"])),
            "records": n(e["records"]),
            "first": moment(e["first"]),
            "last": moment(e["last"]),
            "networks": n(len(e["networks"])),
        }
        for (doc, version, method), e in sorted(summary.items())
    ]
    gaps = [a for a in accounts if not a["assent"]]
    gap_rows = Capped(
        (
            {
                "account": source.account_name(a["account_id"]),
                "created": day(a["created_at"]),
                "status": a["status"] or "—",
                "requests": n(a["usage"]["requests"]),
                "note": "profile known only from usage" if a["seen_only_in_usage"] else "",
            }
            for a in gaps
        ),
        limit=0 if source.redactor.public else source.rows,
        total=len(gaps),
    )
    # Did each account accept the version in force when the conduct began?
    current = {}
    for doc, vs in in_force.items():
        if vs:
            current[doc] = vs[-1]["version"]
    accepted_current = sum(
        1 for a in accounts if any(current.get(r["terms"]) == r["version"] for r in a["assent"])
    )
    on_record = {s["sha256"] for s in data.get("assent_screens") or []}
    samples = Capped(
        (
            {
                "account": source.account_name(a["account_id"]),
                "version": f"{r['terms']} {r['version']}",
                "accepted_at": moment(r["accepted_at"]),
                "method": r["method"],
                "ip": source.redactor.ip(r["ip"]),
                "flow": r["flow_id"] or "—",
                "screenshot": _screenshot(r["screenshot_sha256"], on_record),
            }
            for a in sorted(accounts, key=lambda a: a["account_id"])
            for r in a["assent"]
        ),
        limit=0 if source.redactor.public else source.rows,
        total=sum(len(a["assent"]) for a in accounts),
    )
    return {
        "versions": versions,
        "in_force": [
            {**v, "until": v["until"] or "still in force"} for vs in in_force.values() for v in vs
        ],
        "assent": assent,
        "gaps": gap_rows,
        "gaps_total": len(gaps),
        "accepted_current": n(accepted_current),
        "accounts_total": n(len(accounts)),
        "samples": samples,
        "screens": formation_screens(source),
        "history": [
            {
                **v,
                "changes": _changes(v),
                "exhibit": terms_text_exhibit_name(v),
            }
            for v in data.get("terms_history") or []
        ],
    }


def _screenshot(sha256: str, on_record: set[str]) -> str:
    """Does the record hold the screenshot the assent record names, or only its hash?"""
    if not sha256:
        return "no"
    return "on record" if sha256 in on_record else "hash only"


def _changes(version: dict) -> str:
    if version.get("same_text"):
        return "the same text, word for word (the same SHA-256)"
    parts = [
        f"{what} {', '.join('§' + p for p in version[key])}"
        for what, key in (("changed", "changed"), ("added", "added"), ("removed", "removed"))
        if version[key]
    ]
    return "; ".join(parts) or "no clause changed; the text differs outside the clauses"
