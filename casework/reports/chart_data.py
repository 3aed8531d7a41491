"""What each summary chart plots, taken from the rows of the exhibit it names, and what it
leaves out.

FRE 1006: a chart is a summary, and the other side must be able to check it against the
exhibit it summarises, value for value. So each chart is drawn from one named exhibit's
rows (`daily.csv`, `daily-rhythm.csv`, `signal-strength.csv`), built here by the same
function that writes them, and says in its caption what it did not draw: a chart that
silently drops a series, or plots what no exhibit holds, overclaims (issue #18).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

# Series a chart draws in distinct colours; more would be unreadable, and are said to be
# left out rather than silently dropped.
MAX_SERIES = 7

SIGNAL_STRENGTH_HEADER = [
    "detector",
    "detector_name",
    "accounts_measured",
    "accounts_fired",
    "median_value_of_fired",
    "median_cohort_median",
    "median_percentile_of_fired",
    "median_multiple_of_fired",
]


@dataclass(frozen=True)
class ChartSource:
    """One chart's data: the exhibit it is drawn from, the series exactly as plotted (label
    -> points), vertical marks, and sentences naming what was left out."""

    exhibit: str
    title: str
    series: dict[str, list[tuple[Any, float]]]
    marks: list[tuple[dt.date, str, str]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def as_note(self) -> dict[str, Any]:
        """What the caption states: its exhibit and what it leaves out."""
        return {
            "exhibit": self.exhibit,
            "title": self.title,
            "left_out": self.left_out,
            "enforcement_marked": any(kind == "enforcement" for _, kind, _ in self.marks),
        }


# --- rows of the exhibits the charts are drawn from ------------------------------------------


def rhythm_rows(data: dict[str, Any]) -> list[list[Any]]:
    """daily-rhythm.csv: requests per hour of the day (UTC), the case's and everyone
    else's, with each hour's share."""
    case_hours = data["usage"]["hours"]
    base_hours = data["usage"]["baseline"]["hours"]
    case_total, base_total = sum(case_hours) or 1, sum(base_hours) or 1
    return [
        [
            h,
            case_hours[h],
            round(case_hours[h] / case_total, 6),
            base_hours[h],
            round(base_hours[h] / base_total, 6),
        ]
        for h in range(24)
    ]


def signal_strength_rows(data: dict[str, Any]) -> list[list[Any]]:
    """signal-strength.csv: per conduct signal, the case's accounts it measured and fired
    on, and where the fired ones sit in their plan cohorts (the cohorts less the accounts
    under analysis). Every signal the run stored findings for, including those that fired
    on no account: a null result is a result."""
    detection = data["detection"] or {}
    names = {d["code"]: d.get("name") or d["code"] for d in detection.get("detectors", [])}
    return [
        [
            f["detector"],
            names.get(f["detector"], f["detector"]),
            f["measured"],
            f["fired"],
            f["median_fired_value"],
            f["median_cohort_median"],
            f.get("median_fired_percentile"),
            f.get("median_fired_multiple"),
        ]
        for f in sorted(detection.get("findings", []), key=lambda f: f["detector"])
    ]


def signal_strength_write(exhibits, data: dict[str, Any]) -> None:
    """Write signal-strength.csv (aggregates only: every edition carries it)."""
    if not data["detection"]:
        return
    exhibits.rows(
        "signal-strength.csv",
        "Signal strength against the cohort",
        "Per conduct signal: the attributed accounts it measured and fired on, and, over "
        "those it fired on, the median value, cohort median, cohort percentile and multiple "
        "of the cohort median "
        "(cohorts exclude the accounts under analysis; a multiple is blank where the "
        "cohort's median is zero). Analysis; the signal-strength chart is drawn from it.",
        SIGNAL_STRENGTH_HEADER,
        signal_strength_rows(data),
        nature="analysis",
    )


# --- the charts' series ------------------------------------------------------------------------


def volume_source(data: dict[str, Any], events: list[dict[str, Any]]) -> ChartSource | None:
    """Output tokens per UTC day and case group: daily.csv's rows added up over models."""
    daily = data["usage"]["daily"]
    if not daily:
        return None
    per_group: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for row in daily:
        per_group[row["group"]][dt.date.fromisoformat(row["day"])] += row["output_tokens"]
    days = sorted({dt.date.fromisoformat(r["day"]) for r in daily})
    present = [g for g in data["groups"] if g["key"] in per_group]
    shown, hidden = present[:MAX_SERIES], present[MAX_SERIES:]
    series = {
        f"{g['key']}: {g['label']}": [(d, per_group[g["key"]].get(d, 0)) for d in days]
        for g in shown
    }
    left_out = []
    if hidden:
        left_out.append(
            f"Groups {', '.join(g['key'] for g in hidden)} are not drawn (only "
            f"{MAX_SERIES} lines are readable); their rows are in daily.csv."
        )
    marks, outside = [], 0
    for event in events:
        if event["kind"] not in ("enforcement", "case"):
            continue
        when = dt.date.fromisoformat(event["day"])
        if when < days[0] or when > days[-1]:
            outside += 1
            continue
        marks.append((when, event["kind"], event["label"]))
    if outside:
        left_out.append(
            f"{outside} enforcement or case event{'s' if outside != 1 else ''} outside the "
            "days with usage are not marked (see the events table)."
        )
    enforcement = any(kind == "enforcement" for _, kind, _ in marks)
    if not enforcement:
        left_out.append("No enforcement action falls within these days: none is marked.")
    title = "Volume over time per case group" + (
        ", enforcement actions marked" if enforcement else ""
    )
    return ChartSource("daily.csv", title, series, marks, left_out)


def rhythm_source(data: dict[str, Any]) -> ChartSource | None:
    """Share of requests per hour of the day, as daily-rhythm.csv states them (in %)."""
    rows = rhythm_rows(data)
    if not any(row[1] for row in rows):
        return None
    series = {"Attributed accounts": [(row[0], 100 * row[2]) for row in rows]}
    left_out = []
    if any(row[3] for row in rows):
        series["Every other customer (baseline)"] = [(row[0], 100 * row[4]) for row in rows]
    else:
        left_out.append("No other customer was active in the window: no baseline is drawn.")
    return ChartSource(
        "daily-rhythm.csv", "Daily rhythm against the baseline", series, [], left_out
    )


def signal_source(data: dict[str, Any]) -> ChartSource | None:
    """The median cohort percentile of the accounts each signal fired on, for the signals
    that fired: signal-strength.csv's rows. The percentile, not the multiple, because it is
    defined for every signal (a multiple of a zero median is not), so the lead signal is
    never the one dropped."""
    rows = [dict(zip(SIGNAL_STRENGTH_HEADER, r, strict=True)) for r in signal_strength_rows(data)]
    if not rows:
        return None
    title = "Signal strength against the cohort"
    percentile = "median_percentile_of_fired"
    plotted = [r for r in rows if r["accounts_fired"] and r[percentile] is not None]
    # The lead signal (fired on most accounts) first.
    plotted.sort(key=lambda r: (-r["accounts_fired"], r["detector"]))
    left_out = []
    silent = [r["detector_name"] for r in rows if not r["accounts_fired"]]
    if silent:
        left_out.append(
            f"Not drawn, having fired on none of the attributed accounts: {', '.join(silent)} "
            "(their rows in signal-strength.csv show 0)."
        )
    unplaced = [r["detector_name"] for r in rows if r["accounts_fired"] and r[percentile] is None]
    if unplaced:
        left_out.append(
            f"Not drawn, the run having stored no cohort position for them: {', '.join(unplaced)}."
        )
    series = {
        "median percentile": [
            (
                f"{r['detector_name']} ({r['accounts_fired']:,} of {r['accounts_measured']:,} "
                "fired)",
                r[percentile],
            )
            for r in plotted
        ]
    }
    return ChartSource("signal-strength.csv", title, series if plotted else {}, [], left_out)
