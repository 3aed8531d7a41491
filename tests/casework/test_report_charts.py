"""The report's summary charts are FRE 1006 summaries of named exhibits (issue #18).

The reviewer found a signal-strength chart that plotted detectors which fired on no account
and dropped the lead signal, and a chart titled "enforcement actions marked" with none
marked. Here each chart's plotted values are compared with the rows of the exhibit it
names, in every edition, and what a chart leaves out is said.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from casework.damages_rules import NOT_COMPUTED
from casework.reports.chart_data import signal_source, volume_source
from casework.reports.context import report_context
from casework.reports.exhibits import exhibits_write
from casework.reports.pipeline import chart_sources
from casework.reports.redaction import Redactor
from casework.reports.render import report_html
from casework.reports.snapshot import case_snapshot
from evidence.models import Account, Finding
from tests.casework.test_reports import ACCOUNTS, case, detected  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def findings(detected):  # noqa: F811
    """Beside the fixture's probability harvesting (fired on all three accounts): a volume
    signal measured on them and fired on none, and reasoning elicitation fired on two whose
    cohort's median is zero (no multiple can be stated: the old chart dropped it)."""
    accounts = Account.objects.filter(account_id__in=ACCOUNTS).order_by("account_id")
    for i, account in enumerate(accounts):
        common = dict(
            run=detected,
            account=account,
            window_start=detected.window_start,
            window_end=detected.window_end,
            sample_request_ids=[],
            created_at=detected.started_at,
        )
        Finding.objects.create(
            detector="volume_outlier", detector_version="1", value=50_000.0,
            baseline={"cohort": "tier-2", "cohort_size": 50, "median": 40_000.0,
                      "multiple_of_median": 1.25, "percentile": 60.0},
            threshold=800_000.0, fired=False, explanation="Ordinary volume.", **common,
        )  # fmt: skip
        Finding.objects.create(
            detector="reasoning_elicitation", detector_version="1", value=0.9,
            baseline={"cohort": "tier-2", "cohort_size": 50, "median": 0.0,
                      "multiple_of_median": None, "percentile": 98.0 + i},
            threshold=0.5, fired=i < 2, explanation="Asked for reasoning.", **common,
        )  # fmt: skip
    return detected


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


def _number(cell: str) -> float | None:
    return None if cell == "" else float(cell)


@pytest.mark.parametrize("edition", ["counsel", "regulator", "public"])
def test_every_chart_plots_exactly_its_exhibit_s_rows(case, findings, edition, tmp_path):  # noqa: F811
    snapshot = case_snapshot(case=case)
    redactor = Redactor(edition)
    exhibits = {
        e.file_name: e
        for e in exhibits_write(
            snapshot=snapshot, redactor=redactor, workdir=tmp_path, report_data=b"{}"
        )
    }
    context = report_context(data=snapshot.data, edition=edition, redactor=redactor, table_rows=50)
    sources = chart_sources(snapshot, context)

    # Volume: daily.csv's output tokens, added up per group and day.
    volume = sources["volume"]
    assert volume.exhibit == "daily.csv" and volume.exhibit in exhibits
    expected: dict[tuple[str, str], int] = {}
    for row in _rows(exhibits["daily.csv"].path):
        key = (f"{row['group']}: {row['group_label']}", row["day"])
        expected[key] = expected.get(key, 0) + int(row["output_tokens"])
    plotted = {
        (label, day.isoformat()): value
        for label, points in volume.series.items()
        for day, value in points
        if value  # a day without a row for the group is drawn at zero
    }
    assert plotted == expected and sum(plotted.values()) > 0

    # Rhythm: the case_share and baseline_share columns of daily-rhythm.csv, in %.
    rhythm = sources["rhythm"]
    assert rhythm.exhibit == "daily-rhythm.csv"
    rows = _rows(exhibits["daily-rhythm.csv"].path)
    assert rhythm.series["Attributed accounts"] == [
        (int(r["hour_utc"]), 100 * float(r["case_share"])) for r in rows
    ]
    assert rhythm.series["Every other customer (baseline)"] == [
        (int(r["hour_utc"]), 100 * float(r["baseline_share"])) for r in rows
    ]

    # Signal strength: every signal in the exhibit, null results included; the chart draws
    # the ones that fired, the lead first, and names the one left out.
    signal = sources["signal"]
    assert signal.exhibit == "signal-strength.csv"
    strength = {r["detector"]: r for r in _rows(exhibits["signal-strength.csv"].path)}
    assert set(strength) == {"probability_harvesting", "reasoning_elicitation", "volume_outlier"}
    assert strength["volume_outlier"]["accounts_fired"] == "0"
    assert strength["reasoning_elicitation"]["median_multiple_of_fired"] == ""
    (points,) = signal.series.values()
    drawn = [
        (r["detector_name"], int(r["accounts_fired"]), _number(r["median_percentile_of_fired"]))
        for r in strength.values()
        if int(r["accounts_fired"])
    ]
    drawn.sort(key=lambda r: -r[1])
    assert [value for _, value in points] == [value for _, _, value in drawn]
    assert points[0][0].startswith("Probability harvesting (3 of 3 fired)")  # the lead
    assert points[1] == ("Reasoning elicitation (2 of 3 fired)", 98.5)
    assert not any("Volume outlier" in label for label, _ in points)
    assert signal.left_out == [
        "Not drawn, having fired on none of the attributed accounts: Volume outlier "
        "(their rows in signal-strength.csv show 0)."
    ]


def test_the_captions_name_the_exhibit_and_what_was_left_out(case, findings):  # noqa: F811
    from casework.reports.pipeline import _charts_draw

    snapshot = case_snapshot(case=case)
    context = report_context(
        data=snapshot.data, edition="counsel", redactor=Redactor("counsel"), table_rows=50
    )
    drawn = _charts_draw(snapshot, context)
    assert all(uri.startswith("data:image/svg+xml") for uri in drawn["uris"].values())
    context.update({"charts": drawn["uris"], "chart_notes": drawn["notes"]})
    html = report_html(context)
    assert "Source: signal-strength.csv." in html and "Source: daily.csv." in html
    assert "Source: daily-rhythm.csv." in html
    assert "fired on none of the attributed accounts: Volume outlier" in html
    # The case has a suspended account and HTTP 429s: enforcement is marked, and said so.
    assert drawn["notes"]["volume"]["enforcement_marked"]
    assert "Dashed lines: enforcement actions" in html
    # The statistics the findings rest on are stated with the methods.
    assert "Statistics behind the findings" in html
    assert "circular shift within the hour" in html and "Benjamini-Hochberg" in html


def test_a_volume_chart_with_no_enforcement_does_not_claim_any():
    data = {
        "usage": {
            "daily": [
                {"group": "C1", "day": "2026-01-05", "model": "m", "output_tokens": 10},
                {"group": "C1", "day": "2026-01-06", "model": "m", "output_tokens": 30},
                {"group": "C1", "day": "2026-01-06", "model": "n", "output_tokens": 5},
            ]
        },
        "groups": [{"key": "C1", "label": "Cluster 1"}],
    }
    events = [{"day": "2026-01-05", "kind": "case", "label": "Case opened"}]
    source = volume_source(data, events)
    assert source.title == "Volume over time per case group"
    assert "enforcement" not in source.title
    assert source.left_out == ["No enforcement action falls within these days: none is marked."]
    assert [v for _, v in source.series["C1: Cluster 1"]] == [10, 35]
    marked = volume_source(
        data, [*events, {"day": "2026-01-06", "kind": "enforcement", "label": "Suspended"}]
    )
    assert marked.title.endswith("enforcement actions marked") and not marked.left_out


def test_a_signal_chart_needs_a_signal_that_fired():
    findings = [
        {
            "detector": "volume_outlier",
            "measured": 3,
            "fired": 0,
            "median_fired_value": None,
            "median_cohort_median": 40_000.0,
            "median_fired_percentile": None,
        },
    ]
    data = {"detection": {"detectors": [], "findings": findings}}
    source = signal_source(data)
    assert source.series == {}
    assert "volume_outlier" in source.left_out[0]


def test_without_list_prices_the_summary_states_no_worth(case):  # noqa: F811
    data = case_snapshot(case=case).data
    priced = report_context(
        data=data, edition="counsel", redactor=Redactor("counsel"), table_rows=9
    )
    assert "not computed" not in " ".join(priced["summary"]["statements"])
    unpriced = report_context(
        data={**data, "prices": []}, edition="counsel", redactor=Redactor("counsel"), table_rows=9
    )
    statements = " ".join(unpriced["summary"]["statements"])
    # The damages section's one wording (casework.damages_rules.NOT_COMPUTED), no "worth".
    assert f"damages are {NOT_COMPUTED}" in statements
    assert "at the provider's list prices" not in statements and "worth" not in statements
