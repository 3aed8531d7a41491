"""Summary charts (FRE 1006) as SVG: volume over time, daily rhythm, signal strength.

Drawn with matplotlib's Agg backend from the snapshot's aggregates only, so each chart
shows exactly what `daily.csv`, `daily-rhythm.csv` and the findings summary hold. Text is
drawn as outlines (no font to embed, the same on every machine), and labels name case
groups (C1, C2, ...) and detectors, never accounts: the public edition uses these charts
unchanged.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt

plt.rcParams.update(
    {
        "svg.fonttype": "path",
        "svg.hashsalt": "pacta",  # stable ids: the same data draws the same bytes
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 9,
        "axes.titleweight": "bold",
    }
)
PALETTE = ("#1f4e79", "#c0504d", "#4f8a3c", "#8064a2", "#d08a1e", "#3c8d9e", "#7f7f7f")
WIDTH = 6.6


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return buffer.getvalue()


def volume_chart(*, daily: list[dict], groups: list[dict], events: list[dict]) -> str | None:
    """Output tokens per day and group, with enforcement actions marked."""
    if not daily:
        return None
    per_group: dict[str, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for row in daily:
        per_group[row["group"]][dt.date.fromisoformat(row["day"])] += row["output_tokens"]
    days = sorted({dt.date.fromisoformat(r["day"]) for r in daily})
    peak = max(v for values in per_group.values() for v in values.values())
    scale, unit = next(
        ((s, u) for s, u in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands"))
         if peak >= 10 * s),
        (1, ""),
    )  # fmt: skip
    fig, ax = plt.subplots(figsize=(WIDTH, 2.9))
    shown = [g for g in groups if g["key"] in per_group][: len(PALETTE)]
    for colour, group in zip(PALETTE, shown, strict=False):
        values = per_group[group["key"]]
        ax.plot(
            days,
            [values.get(d, 0) / scale for d in days],
            label=f"{group['key']}: {group['label']}",
            color=colour,
            linewidth=1.4,
            marker="o" if len(days) <= 3 else None,
            markersize=3,
        )
    marked = set()
    for event in events:
        when = dt.date.fromisoformat(event["day"])
        if not days or when < days[0] or when > days[-1]:
            continue
        style = {"enforcement": ("#c0504d", "--"), "case": ("#555555", ":")}.get(event["kind"])
        if style is None:
            continue
        label = event["label"] if event["label"] not in marked else None
        marked.add(event["label"])
        ax.axvline(when, color=style[0], linestyle=style[1], linewidth=0.8, label=label)
    ax.set_ylabel(f"Output tokens{f' ({unit})' if unit else ''}")
    ax.set_ylim(bottom=0)
    ax.set_title("Volume over time per case group, enforcement actions marked")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), fontsize=7, frameon=False, ncol=2)
    fig.autofmt_xdate()
    return _svg(fig)


def rhythm_chart(*, case_hours: list[int], baseline_hours: list[int]) -> str | None:
    """Share of requests per hour of the day (UTC): the case against every other customer."""
    case_total, base_total = sum(case_hours), sum(baseline_hours)
    if not case_total:
        return None
    hours = list(range(24))
    fig, ax = plt.subplots(figsize=(WIDTH, 2.4))
    ax.bar(
        [h - 0.2 for h in hours],
        [100 * v / case_total for v in case_hours],
        width=0.4,
        color=PALETTE[1],
        label="Attributed accounts",
    )
    if base_total:
        ax.bar(
            [h + 0.2 for h in hours],
            [100 * v / base_total for v in baseline_hours],
            width=0.4,
            color=PALETTE[0],
            label="Every other customer (baseline)",
        )
    ax.axhline(100 / 24, color="#555555", linestyle=":", linewidth=0.8, label="Perfectly even")
    ax.set_xticks(hours)
    ax.set_xlabel("Hour of the day (UTC)")
    ax.set_ylabel("Share of requests (%)")
    ax.set_title("Daily rhythm against the baseline")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7, frameon=False, ncol=3)
    return _svg(fig)


def signal_chart(*, findings: list[dict], names: dict[str, str]) -> str | None:
    """Per detector: the attributed accounts' median value as a multiple of their cohort's
    median (1x = an ordinary customer on the same plan)."""
    rows = []
    for f in findings:
        value = f.get("median_fired_value") or f.get("median_value")
        cohort = f.get("median_cohort_median")
        if value is None or not cohort:
            continue
        rows.append((names.get(f["detector"], f["detector"]), value / cohort, f["fired"]))
    if not rows:
        return None
    rows.sort(key=lambda r: r[1])
    fig, ax = plt.subplots(figsize=(WIDTH, 0.32 * len(rows) + 1.1))
    positions = range(len(rows))
    ax.barh(list(positions), [max(r[1], 0.01) for r in rows], color=PALETTE[0], height=0.5)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.axvline(1, color=PALETTE[1], linestyle="--", linewidth=0.8, label="Cohort median (1x)")
    ax.set_xscale("log")
    ax.set_yticks(list(positions))
    ax.set_yticklabels([f"{r[0]} ({r[2]:,} fired)" for r in rows])
    ax.set_xlabel("Median value of the attributed accounts ÷ median of their plan cohort")
    ax.set_title("Signal strength against the cohort")
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return _svg(fig)
