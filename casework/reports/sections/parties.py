"""Section 3 of the report: the parties, their attribution and the links between them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from casework.reports.redaction import Kind
from casework.reports.sections.formatting import BASIS_LABELS, Capped, day, n, ratio, share
from casework.reports.sections.source import Source
from casework.reports.snapshot import attribution_kinds

# Link kinds that show traffic routed through intermediaries (resellers, proxies, keys).
ROUTING_KINDS = ("proxy_routing", "reseller", "end_user", "key_sharing", "shared_key")


def parties_section(source: Source) -> dict[str, Any]:
    data = source.data
    accounts = data["accounts"]
    detection = data["detection"] or {}
    groups = []
    for g in data["groups"]:
        groups.append(
            {
                "key": g["key"],
                "label": g["label"],
                "band": g.get("band") or "—",
                "score": ratio(g["score"]) if g.get("score") is not None else "—",
                "accounts": n(g["accounts"]),
                "cluster_size": n(g.get("cluster_size")) if g.get("cluster_size") else "—",
            }
        )
    top = sorted(accounts, key=lambda a: (-a["usage"]["output_tokens"], a["account_id"]))
    if source.redactor.public:
        top = []  # the public edition counts accounts; it never lists them
    table = Capped(
        (
            {
                "account": source.account_name(a["account_id"]),
                "org_name": source.redactor.identifier(Kind.ORGANISATION, a["org_name"]),
                "email": source.redactor.email(a["email"]),
                "fingerprint": source.redactor.fingerprint(a["payment_fingerprint"]),
                "signup_ip": source.redactor.ip(a["signup_ip"]),
                "country": a["country"] or "—",
                "plan": a["plan"] or "—",
                "status": a["status"] or "—",
                "created": day(a["created_at"]),
                "group": a["group"],
                "basis": "; ".join(BASIS_LABELS.get(k, k) for k in attribution_kinds(a)),
                "requests": n(a["usage"]["requests"]),
                "output_tokens": n(a["usage"]["output_tokens"]),
                "signals": len(a["signals"]),
            }
            for a in top[: source.rows]
        ),
        limit=source.rows,
        total=len(accounts),
    )
    counts = {}
    # Every basis an account rests on is counted, not only the first one given: a second
    # basis is further proof of the same attribution, and the table says so when the
    # column then adds up to more than the accounts.
    several = any(len(attribution_kinds(a)) > 1 for a in accounts)
    for dimension, values in (
        (
            "Attribution basis (an account on several is counted under each)"
            if several
            else "Attribution basis",
            lambda a: [BASIS_LABELS.get(k, "—") for k in attribution_kinds(a)],
        ),
        ("Plan", lambda a: [a["plan"] or "(not recorded)"]),
        ("Status", lambda a: [a["status"] or "(not recorded)"]),
        ("Country", lambda a: [a["country"] or "(not recorded)"]),
    ):
        counter = Counter(value for a in accounts for value in values(a))
        counts[dimension] = [{"value": v, "accounts": n(c)} for v, c in counter.most_common(8)]
    names = source.detector_names()
    links = [
        {
            "kind": names.get(row["kind"], row["kind"]),
            "strength": row["strength"],
            "declared": "yes" if row["declared"] else "no",
            "scope": "between attributed accounts"
            if row["within_case"]
            else "to accounts outside the case",
            "links": n(row["links"]),
        }
        for row in detection.get("links", [])
    ]
    top_links = []
    if not source.redactor.public:
        for row in detection.get("top_links", []):
            top_links.append(
                {
                    "a": source.account_name(row["account_a"]),
                    "b": source.account_name(row["account_b"]),
                    "kind": names.get(row["kind"], row["kind"]),
                    "strength": row["strength"],
                    "explanation": source.redactor.text(row["explanation"], field_name="link text"),
                }
            )
    resellers = [a for a in accounts if a["reseller"]]
    routing_links = sum(
        row["links"]
        for row in detection.get("links", [])
        if any(word in row["kind"] for word in ROUTING_KINDS)
    )
    totals = data["usage"]["totals"]
    routing = {
        "resellers": n(len(resellers)),
        "reseller_names": []
        if source.redactor.public
        else [source.account_name(a["account_id"]) for a in resellers[: source.rows]],
        "with_end_user": n(totals["with_end_user"]),
        "with_end_user_share": share(totals["with_end_user"], totals["requests"]),
        "routing_links": n(routing_links),
    }
    return {
        "groups": Capped(groups, limit=source.rows),
        "accounts": table,
        "accounts_total": len(accounts),
        "counts": counts,
        "links": links,
        "links_total": detection.get("links_count", 0),
        "top_links": top_links,
        "routing": routing,
        "detection": bool(detection),
    }
