"""Section 6 of the report: the chronology, week by week, and the events around the conduct."""

from __future__ import annotations

import datetime as dt
from typing import Any

from casework.reports.sections.countermeasures import countermeasure_events
from casework.reports.sections.formatting import Capped, moment, n
from casework.reports.sections.source import Source


def chronology_section(source: Source) -> dict[str, Any]:
    data = source.data
    daily = sorted(data["usage"]["daily"], key=lambda r: (r["group"], r["day"], r["model"]))
    weeks: dict[tuple[str, str], dict[str, Any]] = {}
    for row_number, row in enumerate(daily, start=1):
        date = dt.date.fromisoformat(row["day"])
        monday = (date - dt.timedelta(days=date.weekday())).isoformat()
        entry = weeks.setdefault(
            (row["group"], monday),
            {"requests": 0, "output_tokens": 0, "throttled": 0, "rows": [], "models": set()},
        )
        entry["requests"] += row["requests"]
        entry["output_tokens"] += row["output_tokens"]
        entry["throttled"] += row["throttled"]
        entry["rows"].append(row_number)
        entry["models"].add(row["model"])
    table = [
        {
            "group": group,
            "week": monday,
            "requests": n(e["requests"]),
            "output_tokens": n(e["output_tokens"]),
            "throttled": n(e["throttled"]),
            "rows": f"{min(e['rows'])} to {max(e['rows'])}",
            "models": len(e["models"]),
        }
        for (group, monday), e in sorted(weeks.items())
    ]
    events = _events(source)
    return {
        "weeks": Capped(table, limit=max(source.rows, 40)),
        "events": events,
        "groups": [{"key": g["key"], "label": g["label"]} for g in data["groups"]],
    }


def _events(source: Source) -> Capped:
    data = source.data
    events = []
    first, last = source.conduct
    for a in data["accounts"]:
        if a["status"] == "suspended" and a["usage"]["last_ts"]:
            who = "an attributed account" if source.redactor.public else a["account_id"]
            events.append(
                (a["usage"]["last_ts"], "enforcement",
                 f"Suspension of {who} (status 'suspended'; its last request in the record)")
            )  # fmt: skip
    throttled_days = sorted({r["day"] for r in data["usage"]["daily"] if r["throttled"]})
    if throttled_days:
        total = sum(r["throttled"] for r in data["usage"]["daily"])
        events.append(
            (throttled_days[0] + "T00:00:00+00:00", "enforcement",
             f"Rate limits enforced (HTTP 429): {n(total)} requests refused on "
             f"{len(throttled_days)} days, first on {throttled_days[0]}")
        )  # fmt: skip
    case = data["case"]
    if case["legal_hold_since"]:
        events.append((case["legal_hold_since"], "case", "Legal hold placed on the case"))
    events.append((case["opened_at"], "case", "Case opened"))
    for terms in data["terms"]:
        events.append(
            (terms["effective_date"] + "T00:00:00+00:00", "contract",
             f"{terms['title']} version {terms['version']} takes effect")
        )  # fmt: skip
    for price in data["prices"]:
        if first and last and first <= price["released_at"] <= last:
            events.append((price["released_at"], "context", f"Model {price['model']} released"))
    events.extend(countermeasure_events(source))
    events.sort()
    rows = [{"at": moment(at), "kind": kind, "text": text} for at, kind, text in events]
    return Capped(rows, limit=source.rows)
