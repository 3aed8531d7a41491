"""Summary charts (FRE 1006) as SVG: volume over time, daily rhythm, signal strength.

Drawn with matplotlib's Agg backend from a `ChartSource` (`chart_data`): the rows of the
exhibit the chart names (`daily.csv`, `daily-rhythm.csv`, `signal-strength.csv`), plotted
as they are. Text is drawn as outlines (no font to embed, the same on every machine), and
labels name case groups (C1, C2, ...) and detectors, never accounts: the public edition
uses these charts unchanged.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt

from casework.reports.chart_data import MAX_SERIES, ChartSource

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


def volume_chart(source: ChartSource | None) -> str | None:
    """Output tokens per day and group (daily.csv), enforcement actions marked if any."""
    if source is None:
        return None
    peak = max((v for points in source.series.values() for _, v in points), default=0)
    scale, unit = next(
        ((s, u) for s, u in ((1e9, "billions"), (1e6, "millions"), (1e3, "thousands"))
         if peak >= 10 * s),
        (1, ""),
    )  # fmt: skip
    fig, ax = plt.subplots(figsize=(WIDTH, 2.9))
    for colour, (label, points) in zip(PALETTE[:MAX_SERIES], source.series.items(), strict=False):
        ax.plot(
            [d for d, _ in points],
            [v / scale for _, v in points],
            label=label,
            color=colour,
            linewidth=1.4,
            marker="o" if len(points) <= 3 else None,
            markersize=3,
        )
    marked = set()
    for when, kind, text in source.marks:
        colour, style = {"enforcement": ("#c0504d", "--"), "case": ("#555555", ":")}[kind]
        label = text if text not in marked else None
        marked.add(text)
        ax.axvline(when, color=colour, linestyle=style, linewidth=0.8, label=label)
    ax.set_ylabel(f"Output tokens{f' ({unit})' if unit else ''}")
    ax.set_ylim(bottom=0)
    ax.set_title(source.title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), fontsize=7, frameon=False, ncol=2)
    fig.autofmt_xdate()
    return _svg(fig)


def rhythm_chart(source: ChartSource | None) -> str | None:
    """Share of requests per hour of the day (UTC): the case against every other customer
    (daily-rhythm.csv's shares)."""
    if source is None:
        return None
    fig, ax = plt.subplots(figsize=(WIDTH, 2.4))
    width = 0.8 / len(source.series)
    colours = (PALETTE[1], PALETTE[0])
    for i, (label, points) in enumerate(source.series.items()):
        offset = (i - (len(source.series) - 1) / 2) * width
        ax.bar(
            [h + offset for h, _ in points],
            [v for _, v in points],
            width=width,
            color=colours[i % 2],
            label=label,
        )
    ax.axhline(100 / 24, color="#555555", linestyle=":", linewidth=0.8, label="Perfectly even")
    ax.set_xticks(list(range(24)))
    ax.set_xlabel("Hour of the day (UTC)")
    ax.set_ylabel("Share of requests (%)")
    ax.set_title(source.title)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7, frameon=False, ncol=3)
    return _svg(fig)


def signal_chart(source: ChartSource | None) -> str | None:
    """Per signal that fired: the median cohort percentile of the accounts it fired on
    (signal-strength.csv; 50 is an ordinary customer on the same plan)."""
    if source is None or not source.series:
        return None
    (points,) = source.series.values()
    rows = list(reversed(points))  # the lead signal at the top
    fig, ax = plt.subplots(figsize=(WIDTH, 0.32 * len(rows) + 1.1))
    positions = list(range(len(rows)))
    ax.barh(positions, [v for _, v in rows], color=PALETTE[0], height=0.5)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlim(0, 100)
    ax.axvline(50, color=PALETTE[1], linestyle="--", linewidth=0.8, label="Cohort median (50)")
    ax.set_yticks(positions)
    ax.set_yticklabels([label for label, _ in rows])
    ax.set_xlabel("Median cohort percentile of the accounts the signal fired on")
    ax.set_title(source.title)
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return _svg(fig)
