"""The screen each account saw when it accepted the Terms (section 4, formation).

A clickwrap or sign-in-wrap acceptance binds only if the screen gave reasonable notice of
the Terms and the click plainly meant assent (e.g. Meyer v. Uber, 2d Cir. 2017; Berman v.
Freedom Financial, 9th Cir. 2022), so the report shows the screen itself, not only the
row that says a box was clicked. For each flow of the accounts' acceptances: the
screenshot whose hash their assent records carry, or failing that the flow's screen on
record for the time they accepted; and plainly, when the record holds none.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Any

from casework.reports.formation_exhibits import (
    screen_bytes,
    screen_exhibit_name,
    screen_in_edition,
)
from casework.reports.sections.formatting import moment, n
from casework.reports.sections.source import Source

IMAGE_TYPES = ("image/png", "image/jpeg")


def _covers(screen: dict, first: str, last: str) -> bool:
    """Was the flow version live at every acceptance of the group (ISO strings compare)?"""
    return (screen["shown_from"] is None or screen["shown_from"] <= first) and (
        screen["shown_until"] is None or last < screen["shown_until"]
    )


def formation_screens(source: Source) -> dict[str, Any]:
    screens = source.data.get("assent_screens") or []
    by_hash = {s["sha256"]: s for s in screens}
    groups: dict[tuple, dict] = defaultdict(
        lambda: {"accounts": set(), "records": 0, "first": None, "last": None}
    )
    for account in source.data["accounts"]:
        for r in account["assent"]:
            key = (r["terms"], r["version"], r["method"], r["flow_id"], r["screenshot_sha256"])
            group = groups[key]
            group["accounts"].add(account["account_id"])
            group["records"] += 1
            group["first"] = min(filter(None, (group["first"], r["accepted_at"])))
            group["last"] = max(filter(None, (group["last"], r["accepted_at"])))
    rows = []
    for (terms, version, method, flow, sha256), g in sorted(groups.items()):
        screen, basis = by_hash.get(sha256) if sha256 else None, "named by hash"
        if screen is None:
            basis = "the flow's screen on record for the time of acceptance"
            screen = next(
                (
                    s
                    for s in screens
                    if s["flow_id"] == flow
                    and s["media_type"] in IMAGE_TYPES
                    and _covers(s, g["first"], g["last"])
                ),
                None,
            )
        archives = [
            screen_exhibit_name(s)
            for s in screens
            if s["flow_id"] == flow
            and s["kind"] == "flow_archive"
            and screen_in_edition(s, source.redactor)
        ]
        row = {
            "terms": terms,
            "version": version,
            "method": method,
            "flow": flow or "—",
            "accounts": n(len(g["accounts"])),
            "records": n(g["records"]),
            "first": moment(g["first"]),
            "last": moment(g["last"]),
            "recorded_sha256": sha256,
            "archives": archives,
            "screen": None,
        }
        if screen is not None:
            row["screen"] = _screen(source, screen, basis=basis, first=g["first"], last=g["last"])
        rows.append(row)
    return {"rows": rows, "on_record": len(screens)}


def _screen(source: Source, screen: dict, *, basis: str, first: str, last: str) -> dict:
    shown = screen_in_edition(screen, source.redactor)
    image = None
    if shown and screen["media_type"] in IMAGE_TYPES:
        encoded = base64.b64encode(screen_bytes(screen)).decode("ascii")
        image = f"data:{screen['media_type']};base64,{encoded}"
    version = f"{screen['terms']} {screen['version']}" if screen["terms"] else "not stated"
    return {
        "sha256": screen["sha256"],
        "exhibit": screen_exhibit_name(screen) if shown else None,
        "withheld": not shown,
        "image": image,
        "media_type": screen["media_type"],
        "basis": basis,
        "terms_version": version,
        "window": (
            f"{moment(screen['shown_from']) if screen['shown_from'] else 'no recorded start'}"
            f" to {moment(screen['shown_until']) if screen['shown_until'] else 'no recorded end'}"
        ),
        "covers": _covers(screen, first, last),
    }
