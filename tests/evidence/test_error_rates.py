"""Error rates a detection run measures on itself, and where a reader finds them.

A methodology that quotes error rates from generated worlds alone invites "and on real
customers?". Each run states, in its own numbers: how many accounts investigators
confirmed benign it still put in a critical or high cluster, how many confirmed abusive
it caught, which accounts it and the investigators disagree on, and what share of its
population it banded and how common each kind of link was in it. Without labels it says
plainly that the rate on confirmed cases cannot be stated.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Group

from casework.reports.context import report_context
from casework.reports.redaction import Redactor
from casework.reports.render import report_html
from casework.reports.snapshot import case_snapshot
from evidence.detectors.error_rates import (
    NO_LABELS,
    label_statements,
    percent,
    population_statements,
    rate_words,
    wilson_interval,
)
from evidence.labels import account_label
from evidence.models import Account, LedgerEntry, Link
from tests.evidence.test_detectors import T0, World, _harvest
from tests.factories import case_with_members, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

CLI = "system:cli"


def _world(tmp_path) -> World:
    """Twelve ordinary customers, three harvesters on one card (critical), a lone harvester
    (high), and an account that did nothing in the window."""
    world = World(tmp_path)
    world.ordinary()
    for name in ("acct_n1", "acct_n2", "acct_n3"):
        world.account(name, card="pf_rotating")
        _harvest(world, name, T0 + dt.timedelta(hours=len(name)), 15)
    world.account("acct_loner")
    _harvest(world, "acct_loner", T0, 15, style="own")
    world.account("acct_idle")
    world.load()
    return world


def _label(account_id: str, verdict: str, reason: str = "Checked with the customer.") -> None:
    account_label(actor=CLI, account_id=account_id, verdict=verdict, reason=reason)


@pytest.fixture
def labelled(tmp_path):
    world = _world(tmp_path)
    _label("acct_ord00", "confirmed_benign")
    _label("acct_ord01", "confirmed_benign")
    _label("acct_n1", "confirmed_abusive")
    _label("acct_loner", "confirmed_benign", "A university lab, under contract.")
    _label("acct_ord02", "confirmed_abusive", "Admitted reselling outputs.")
    # A change of mind: the latest verdict is the one measured.
    _label("acct_ord03", "confirmed_abusive")
    _label("acct_ord03", "confirmed_benign", "The abuse report was about another account.")
    _label("acct_idle", "confirmed_abusive")  # no activity in the window: not measured
    return world


def test_a_run_reports_its_errors_on_the_confirmed_accounts(labelled):
    from evidence.detectors.service import detection_run

    run = detection_run(actor="system:test")
    rates = run.counts["error_rates"]
    labels = rates["labels"]
    assert (labels["in_force"], labels["outside_run"]) == (7, 1)
    # acct_loner confirmed benign but put in high: the one false accusation in four.
    assert {k: labels["benign"][k] for k in ("n", "critical_high")} == {
        "n": 4,
        "critical_high": 1,
    }
    # acct_n1 caught (critical); acct_ord02 missed.
    assert {k: labels["abusive"][k] for k in ("n", "critical_high")} == {
        "n": 2,
        "critical_high": 1,
    }
    assert labels["disagreements"] == [
        {"account": "acct_loner", "verdict": "confirmed_benign", "band": "high"},
        {"account": "acct_ord02", "verdict": "confirmed_abusive", "band": "none"},
    ]
    assert labels["disagreements_total"] == 2
    low, high = labels["benign"]["interval_95"]
    assert low < 0.25 < high

    # The population: 17 accounts, 16 active; four put in critical or high.
    population = rates["population"]
    assert (population["accounts"], population["critical_high"]) == (16, 4)
    assert population["pairs"] == 16 * 15 // 2
    card = rates["links"]["shared_payment"]
    stored = Link.objects.filter(run=run, kind="shared_payment").count()
    assert (card["links"], card["accounts"]) == (stored, 3)
    assert rates["signals"]["reasoning_elicitation"]["fired"] >= 4

    # The run's ledger entry carries them, as it carries every count.
    entry = LedgerEntry.objects.get(action="detected", object_id=str(run.pk))
    assert entry.details["counts"]["error_rates"]["labels"]["disagreements_total"] == 2

    lines = label_statements(rates, with_accounts=True)
    assert any(
        "of the 4 accounts confirmed benign, the run put 1 (25.0%;" in line for line in lines
    )
    assert any(
        "of the 2 accounts confirmed abusive, the run put 1 (50.0%;" in line for line in lines
    )
    assert any("1 account among them had no activity in the window" in line for line in lines)
    assert any(
        "acct_loner (confirmed benign, put in high); acct_ord02 (confirmed abusive, put in none)"
        in line
        for line in lines
    )
    # A report names no disagreeing account: most are not the case's.
    assert not any("acct_loner" in line for line in label_statements(rates, with_accounts=False))
    # Every rate with its 95% Wilson interval (issue #18).
    review = population["review"]
    low, high = wilson_interval(review, 16)
    assert population_statements(rates) == [
        "Measured on this run's population of 16 accounts active in its window: 4 (25.0%; "
        "95% confidence interval 10.2% to 49.5%) were put in a critical or high cluster, and "
        f"{review} ({percent(review, 16)}; 95% confidence interval {percent(low, 1)} to "
        f"{percent(high, 1)}) in review."
    ]
    assert wilson_interval(4, 16) == pytest.approx([0.1018, 0.4950], abs=1e-4)
    assert rate_words(3, 40) == "7.5%; 95% confidence interval 2.6% to 19.9%"
    assert rate_words(0, 0) == "—"


def test_without_labels_the_run_says_the_rate_on_confirmed_cases_cannot_be_stated(tmp_path):
    from evidence.detectors.service import detection_run

    _world(tmp_path)
    rates = detection_run(actor="system:test").counts["error_rates"]
    assert rates["labels"]["in_force"] == 0
    assert rates["labels"]["disagreements"] == []
    assert label_statements(rates, with_accounts=True) == [NO_LABELS]
    assert NO_LABELS == (
        "No confirmed labels yet: the error rate on confirmed cases cannot be stated."
    )


def test_no_false_accusation_is_still_stated_with_its_uncertainty():
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(0, 30)
    assert low == 0 and 0.10 < high < 0.12  # none in 30 still allows up to about 11%
    assert percent(3, 199_990_000) == "0.0000015%"
    assert percent(1, 4) == "25.0%"


def test_the_methodology_section_states_the_run_s_error_rates(labelled, tmp_path):
    from evidence.detectors.service import detection_run

    run = detection_run(actor="system:test")
    owner = user_with_role("cora", "counsel")
    Group.objects.get_or_create(name="counsel")[0].user_set.add(owner)
    case = case_with_members(
        owner=owner,
        reference="PX-2026-016",
        accounts=Account.objects.filter(account_id__in=("acct_n1", "acct_n2", "acct_n3")),
    )
    snapshot = case_snapshot(case=case)
    assert snapshot.data["detection"]["run"]["error_rates"] == run.counts["error_rates"]
    for edition in ("counsel", "public"):
        context = report_context(
            data=snapshot.data, edition=edition, redactor=Redactor(edition), table_rows=20
        )
        methodology = context["methodology"]
        assert methodology["error_rates"]["population"] == population_statements(
            run.counts["error_rates"]
        )
        html = " ".join(report_html(context).split())
        assert "Error rates measured by this run" in html
        assert "Measured on this run&#x27;s population of 16 accounts" in html
        assert "of the 4 accounts confirmed benign, the run put 1 (25.0%;" in html
        assert "The run and the investigators disagree on 2 accounts" in html
        assert "acct_loner" not in html and "acct_ord02" not in html
        card = next(d for d in methodology["detectors"] if d["code"] == "shared_payment")
        assert (
            f"touching 3 accounts: {rate_words(3, 16)}, of the 16 accounts this run examined"
            in (card["measured"])
        )
        assert "Measured on this run" in html


def test_the_clusters_page_names_the_disagreements_for_investigators(labelled, client):
    from evidence.detectors.service import detection_run

    detection_run(actor="system:test")
    client.force_login(user_with_role("ivy", "investigator"))
    html = " ".join(client.get("/clusters/").content.decode().split())
    assert "Error rates this run measured on itself" in html
    assert "acct_loner (confirmed benign, put in high)" in html


def test_a_report_of_a_run_made_before_runs_measured_themselves_says_so():
    assert population_statements(None) == [
        "This run did not measure its error rates (it predates the measurement)."
    ]
    assert label_statements(None, with_accounts=False) == []
