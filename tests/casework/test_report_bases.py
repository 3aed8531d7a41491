"""The report counts every basis an account is attributed on, not only the first.

Issue #20: counsel attributed accounts already in the case on a second basis (the
respondent's own records, after the detected cluster); the case page listed it, but the
report's summary and its counts of the parties showed the first basis alone, so the signed
report understated the attribution the record supports.
"""

from __future__ import annotations

import csv
import io

import pytest

from casework.models import CaseAccount
from casework.reports.context import report_context
from casework.reports.exhibits import exhibits_write
from casework.reports.redaction import Redactor
from casework.reports.snapshot import case_snapshot
from casework.services import case_accounts_attribute, case_open
from evidence.ingest.service import ingest_file
from evidence.models import Account
from tests.factories import ndjson_file, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def case(tmp_path):
    """Three accounts on a shared card; two of them also on the respondent's admission."""
    rows = [
        {"account_id": f"fox_{i}", "plan": "tier-2", "org_name": "Blue Finch"} for i in range(3)
    ]
    ingest_file(actor="system:test", kind="accounts", path=ndjson_file(tmp_path / "a.ndjson", rows))
    counsel = user_with_role("casey", "counsel")
    case = case_open(actor=counsel, reference="PACTA-B", title="Bases", respondent="Blue Finch")
    case_accounts_attribute(
        actor=counsel, case=case, accounts=Account.objects.all(), basis="payment"
    )
    case_accounts_attribute(
        actor=counsel,
        case=case,
        accounts=Account.objects.filter(account_id__in=["fox_0", "fox_1"]),
        basis="admission",
        detail="their letter of 3 May",
    )
    return case


def _context(case, edition: str = "counsel") -> dict:
    return report_context(
        data=case_snapshot(case=case).data,
        edition=edition,
        redactor=Redactor(edition),
        table_rows=50,
    )


def test_the_two_accounts_on_a_second_basis_are_recorded_beside_the_first(case):
    # What the report reads: three accounts, two of them with a further basis.
    links = CaseAccount.objects.filter(case=case)
    assert links.count() == 3
    assert {link.basis for link in links} == {"payment"}
    assert sorted(
        b.case_account.account.account_id
        for link in links
        for b in link.further_bases.select_related("case_account__account")
    ) == ["fox_0", "fox_1"]


@pytest.mark.parametrize("edition", ["counsel", "regulator", "public"])
def test_the_summary_counts_accounts_on_every_basis(case, edition):
    statements = _context(case, edition)["summary"]["statements"]
    assert statements[0] == (
        "3 accounts are attributed to Blue Finch (respondent's admission or records: 2; "
        "shared payment method: 3; 2 of them rest on more than one basis and are counted "
        "under each)."
    )


def test_the_parties_counts_count_every_basis_and_say_so(case):
    counts = _context(case)["parties"]["counts"]
    dimension = "Attribution basis (an account on several is counted under each)"
    assert counts[dimension] == [
        {"value": "Shared payment method", "accounts": "3"},
        {"value": "Respondent's admission or records", "accounts": "2"},
    ]
    assert "Attribution basis" not in counts  # one table, not two


def test_a_case_on_one_basis_each_reads_as_before(tmp_path):
    rows = [{"account_id": f"owl_{i}", "org_name": "Owl"} for i in range(2)]
    ingest_file(actor="system:test", kind="accounts", path=ndjson_file(tmp_path / "o.ndjson", rows))
    counsel = user_with_role("olga", "counsel")
    case = case_open(actor=counsel, reference="PACTA-O", title="One", respondent="Owl Labs")
    case_accounts_attribute(
        actor=counsel, case=case, accounts=Account.objects.all(), basis="investigation"
    )
    context = _context(case)
    assert context["summary"]["statements"][0] == (
        "2 accounts are attributed to Owl Labs (investigator's finding: 2)."
    )
    assert context["parties"]["counts"]["Attribution basis"] == [
        {"value": "Investigator's finding", "accounts": "2"}
    ]


def test_the_public_editions_account_counts_count_every_basis(case, tmp_path):
    folder = tmp_path / "public"
    folder.mkdir()
    exhibits = exhibits_write(
        snapshot=case_snapshot(case=case),
        redactor=Redactor("public"),
        workdir=folder,
        report_data=b"{}",
    )
    summary = next(e for e in exhibits if e.file_name == "accounts-summary.csv")
    rows = list(csv.DictReader(io.StringIO(summary.path.read_text(encoding="utf-8"))))
    bases = {r["value"]: r["accounts"] for r in rows if r["dimension"] == "attribution basis"}
    assert bases == {"payment": "3", "admission": "2"}
