"""The case timeline as counsel rely on it: sign-ups, assent, first and last requests,
detections, attributions, allegations, holds, downloads, enforcement actions and notices
in one chronological order, a notice's deadline as an event still to come; only what the
user may see (a non-member gets 404, a regulator's reviewer neither the team's actions nor
the access audit); a CSV download that is ledgered and safe to open in a spreadsheet; and
a number of queries that does not grow with the accounts."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casework.countermeasures.notices import notice_send
from casework.countermeasures.services import action_propose
from casework.services import (
    allegation_add,
    case_accounts_attribute,
    case_hold_place,
    case_member_add,
    evidence_item_exported,
)
from casework.timeline import TIMELINE_PAGE_ROWS, case_timeline
from evidence.ingest.service import ingest_file
from evidence.models import (
    Account,
    Clause,
    Cluster,
    ClusterMember,
    DetectionRun,
    EvidenceItem,
    Finding,
    LedgerEntry,
)
from tests.casework.test_enforcement_actions import T0, TERMS
from tests.factories import case_with_members, ndjson_file, terms_version, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

# An account id a spreadsheet would run as a formula if written as it is.
FORMULA_ID = '=HYPERLINK("http://evil.example","x")'


def ingest_accounts(tmp_path, ids, *, name="accounts.ndjson"):
    rows = [
        {
            "account_id": account_id,
            "created_at": (T0 - dt.timedelta(days=30, minutes=n)).isoformat(),
            "payment_fingerprint": "fp_fox",
        }
        for n, account_id in enumerate(ids)
    ]
    ingest_file(actor="system:test", kind="accounts", path=ndjson_file(tmp_path / name, rows))


def ingest_usage(tmp_path, ids, *, name="usage.ndjson"):
    """Two requests per account: one on day 0, one on day 3."""
    rows = [
        {
            "request_id": f"req_{account_id}_{day}",
            "ts": (T0 + dt.timedelta(days=day, minutes=n)).isoformat(),
            "account_id": account_id,
            "api_key_id": f"key_{n}",
            "model": "frontier-2",
            "input_tokens": 100,
            "output_tokens": 200,
        }
        for n, account_id in enumerate(ids)
        for day in (0, 3)
    ]
    ingest_file(actor="system:test", kind="usage", path=ndjson_file(tmp_path / name, rows))


@pytest.fixture
def world(tmp_path):
    """Two accounts of the respondent (one with an id that reads as a formula), their
    assent and requests, a case owned by counsel Olivia with an allegation, an external
    reviewer Rita on it, and a detection run that grouped both accounts."""
    ids = ["acct_fox01", FORMULA_ID]
    ingest_accounts(tmp_path, ids)
    ingest_usage(tmp_path, ids)
    terms_version(tmp_path, TERMS, label="2025-06-01")
    assent = {
        "account_id": "acct_fox01",
        "terms": "services-agreement",
        "version": "2025-06-01",
        "ts": (T0 - dt.timedelta(days=29)).isoformat(),
        "method": "clickwrap",
    }
    ingest_file(
        actor="system:test", kind="assent", path=ndjson_file(tmp_path / "assent.ndjson", [assent])
    )
    owner = user_with_role("olivia", "counsel")
    reviewer = user_with_role("rita", "viewer")
    case = case_with_members(
        owner=owner,
        reference="CASE-20",
        members=[(reviewer, "external_reviewer")],
        accounts=Account.objects.filter(account_id__in=ids),
    )
    clause = Clause.objects.get(path="3.3(b)")
    allegation_add(
        actor=owner,
        case=case,
        clause=clause,
        theory="Two linked accounts extracted Output by automated means.",
        evidence_item_ids=[],
    )
    run = DetectionRun.objects.create(
        started_at=T0 + dt.timedelta(days=10),
        finished_at=T0 + dt.timedelta(days=10, hours=1),
        status=DetectionRun.Status.FINISHED,
        actor="system:detector",
    )
    cluster = Cluster.objects.create(
        run=run, identity="C-0042", score=91, band="critical", size=2, explanation="-",
        created_at=run.finished_at,
    )  # fmt: skip
    for account in Account.objects.filter(account_id__in=ids):
        ClusterMember.objects.create(cluster=cluster, account=account)
        Finding.objects.create(
            run=run, detector="coverage_sweep", detector_version="1", account=account,
            window_start=T0, window_end=T0 + dt.timedelta(days=3), value=9, threshold=3,
            fired=True, explanation="-", created_at=run.finished_at,
        )  # fmt: skip
    return {"case": case, "owner": owner, "reviewer": reviewer, "clause": clause, "ids": ids}


def kinds(timeline) -> list[str]:
    return [event.kind for event in timeline.events]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_record_and_the_case_in_one_chronological_order(world):
    timeline = case_timeline(user=world["owner"], case=world["case"])
    times = [event.at for event in timeline.events]
    assert times == sorted(times)
    fox = [(e.kind, e.detail) for e in timeline.events if e.subject == "acct_fox01"]
    assert fox == [
        ("signup", "account created"),
        ("assent", "services-agreement 2025-06-01 (Clickwrap)"),
        ("first_request", "req_acct_fox01_0"),
        ("last_request", "req_acct_fox01_3"),
    ]
    [detection] = [e for e in timeline.events if e.kind == "detection"]
    assert detection.at == T0 + dt.timedelta(days=10, hours=1)
    assert "Coverage sweep on 2 accounts" in detection.detail  # the registry's name
    assert "cluster C-0042 (Critical, 2 accounts; 2 of the case's)" in detection.detail
    [attribution] = [e for e in timeline.events if e.kind == "attribution"]
    assert attribution.subject == "2 accounts" and "Shared payment method" in attribution.detail
    [allegation] = [e for e in timeline.events if e.kind == "allegation"]
    assert allegation.subject == "§3.3(b) (Output extraction)" and allegation.actor == "olivia"
    # The case was opened, attributed and alleged after the record's events.
    assert kinds(timeline)[-3:] == ["case_opened", "attribution", "allegation"]


def test_one_act_of_attribution_is_one_event_whatever_its_size(world, tmp_path):
    more = [f"acct_more{n:02d}" for n in range(30)]
    ingest_accounts(tmp_path, more, name="more.ndjson")
    case_accounts_attribute(
        actor=world["owner"],
        case=world["case"],
        accounts=Account.objects.filter(account_id__in=more),
        basis="investigation",
    )
    events = [e for e in case_timeline(user=world["owner"], case=world["case"]).events
              if e.kind == "attribution"]  # fmt: skip
    assert [e.subject for e in events] == ["2 accounts", "30 accounts"]
    assert events[1].detail == "acct_more00 … acct_more29; basis: Investigator's finding"


def test_holds_and_downloads_come_from_the_ledger_and_downloads_only_for_the_audit(world):
    case = world["case"]
    case_hold_place(actor=world["owner"], case=case)
    item = EvidenceItem.objects.create(
        kind="screenshot", file="x.png", file_name="dashboard.png", sha256="0" * 64, size=1,
        source="test", collector_label="olivia", collected_at=timezone.now(),
    )  # fmt: skip
    evidence_item_exported(actor=world["owner"], item=item, case=case)
    owner_view = case_timeline(user=world["owner"], case=case)
    [hold] = [e for e in owner_view.events if e.kind == "hold_placed"]
    assert hold.source == "ledger" and "2 accounts" in hold.detail
    [download] = [e for e in owner_view.events if e.kind == "download"]
    assert (download.subject, download.actor) == ("dashboard.png", "olivia")
    reviewer_view = case_timeline(user=world["reviewer"], case=case)
    assert "hold_placed" in kinds(reviewer_view)
    assert "download" not in kinds(reviewer_view)  # the access audit is the owner's


def test_a_notice_deadline_is_an_event_still_to_come(world, signing):
    case = world["case"]
    action_propose(
        actor=world["owner"], case=case, kind="suspend", clause=world["clause"],
        reason="Automated extraction.", effective_at=T0 + dt.timedelta(days=40),
        accounts=["acct_fox01"],
    )  # fmt: skip
    notice = notice_send(
        actor=world["owner"], case=case, kind="breach", to="legal@fox.test", cure_days=7
    )
    timeline = case_timeline(user=world["owner"], case=case)
    assert kinds(timeline)[-3:] == ["notice_issued", "notice_sent", "cure_deadline"]
    [deadline] = timeline.upcoming
    assert deadline.at == notice.deadline_at and deadline.subject.endswith(notice.reference)
    assert "cure period 7 days" in deadline.detail
    assert {"action_proposed", "action_effective"} <= set(kinds(timeline))
    # A regulator's reviewer on the case does not see the team's countermeasures.
    reviewer_kinds = set(kinds(case_timeline(user=world["reviewer"], case=case)))
    assert not reviewer_kinds & {"action_proposed", "notice_issued", "cure_deadline"}
    page = logged_in(world["owner"]).get("/cases/CASE-20/timeline/").content.decode()
    assert "Still to come (1)" in page and "Cure period ends" in page


def test_groups_narrow_the_timeline_and_an_unknown_group_is_named(world):
    client = logged_in(world["owner"])
    page = client.get("/cases/CASE-20/timeline/?group=detection").content.decode()
    assert "Detection" in page and "acct_fox01" not in page
    response = client.get("/cases/CASE-20/timeline/?group=gossip")
    assert response.status_code == 400
    assert "unknown event group &#x27;gossip&#x27;" in response.content.decode()


def test_the_page_is_paged_and_a_bad_page_number_is_named(world, tmp_path):
    more = [f"acct_p{n:03d}" for n in range(40)]
    ingest_accounts(tmp_path, more, name="more.ndjson")
    ingest_usage(tmp_path, more, name="more-usage.ndjson")
    case_accounts_attribute(
        actor=world["owner"], case=world["case"],
        accounts=Account.objects.filter(account_id__in=more), basis="payment",
    )  # fmt: skip
    total = len(case_timeline(user=world["owner"], case=world["case"]).events)
    assert total > TIMELINE_PAGE_ROWS
    client = logged_in(world["owner"])
    first = client.get("/cases/CASE-20/timeline/").content.decode()
    assert f"{total} events" in first and "Page 1 of 2" in first and 'rel="next"' in first
    assert first.count("<tr>") + first.count('<tr class="upcoming">') == TIMELINE_PAGE_ROWS + 1
    second = client.get("/cases/CASE-20/timeline/?page=2").content.decode()
    assert "Page 2 of 2" in second and "Allegation" in second
    response = client.get("/cases/CASE-20/timeline/?page=9")
    assert response.status_code == 400
    assert "page must be a whole number from 1 to 2" in response.content.decode()


def test_the_case_page_links_to_the_timeline(world):
    page = logged_in(world["owner"]).get("/cases/CASE-20/").content.decode()
    assert 'href="/cases/CASE-20/timeline/"' in page


def test_a_non_member_gets_404_for_the_page_and_the_download(world):
    client = logged_in(user_with_role("nina", "counsel"))
    assert client.get("/cases/CASE-20/timeline/").status_code == 404
    assert client.get("/cases/CASE-20/timeline.csv").status_code == 404
    assert Client().get("/cases/CASE-20/timeline/").status_code == 302  # to sign in
    assert not LedgerEntry.objects.filter(action="exported").exists()


def test_the_csv_download_is_ledgered_and_safe_in_a_spreadsheet(world):
    client = logged_in(world["owner"])
    response = client.get("/cases/CASE-20/timeline.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="CASE-20-timeline-')
    data = response.content
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["when_utc", "event", "subject", "detail", "actor", "source", "upcoming"]
    subjects = [row[2] for row in rows[1:]]
    assert "'" + FORMULA_ID in subjects and FORMULA_ID not in subjects
    assert not [cell for row in rows[1:] for cell in row if cell and cell[0] in "=+-@"]
    entry = LedgerEntry.objects.get(action="exported", object_type="case")
    assert entry.object_sha256 == hashlib.sha256(data).hexdigest()
    assert entry.details["export"] == "timeline" and entry.details["rows"] == len(rows) - 1
    assert entry.actor == "olivia"
    # The export is itself on the timeline now, as a download by its owner.
    after = case_timeline(user=world["owner"], case=world["case"]).events
    assert len(after) == len(rows)
    assert [e.subject for e in after if e.kind == "download"] == [entry.details["file_name"]]
    # The download is in the case's access audit.
    audit = client.get("/cases/CASE-20/audit/").content.decode()
    assert entry.details["file_name"] in audit


def test_the_number_of_queries_does_not_grow_with_the_accounts(world, tmp_path, signing):
    case = world["case"]
    notice_send(actor=world["owner"], case=case, kind="breach", to="legal@fox.test", cure_days=7)
    case_hold_place(actor=world["owner"], case=case)

    def queries() -> int:
        owner = type(world["owner"]).objects.get(pk=world["owner"].pk)  # nothing cached
        with CaptureQueriesContext(connection) as captured:
            case_timeline(user=owner, case=case)
        return len(captured)

    cache.clear()
    small = queries()
    assert queries() <= small  # the accounts' rows from the cache, their inputs unchanged
    more = [f"acct_q{n:03d}" for n in range(60)]
    ingest_accounts(tmp_path, more, name="more.ndjson")
    ingest_usage(tmp_path, more, name="more-usage.ndjson")
    case_accounts_attribute(
        actor=world["owner"], case=case, accounts=Account.objects.filter(account_id__in=more),
        basis="payment",
    )  # fmt: skip
    case_member_add(actor=world["owner"], case=case, user=user_with_role("vic", "viewer"),
                    role="viewer")  # fmt: skip
    assert queries() == small <= 20


def test_reports_show_in_the_editions_the_user_may_see_and_the_view_is_ledgered(world):
    from casework.models import ReportJob

    for edition in ("counsel", "regulator"):
        ReportJob.objects.create(
            case=world["case"],
            edition=edition,
            snapshot_sha256=edition[0] * 64,
            requested_by=world["owner"],
        )
    owner = [e.subject for e in case_timeline(user=world["owner"], case=world["case"]).events
             if e.kind == "report_requested"]  # fmt: skip
    assert owner == [
        f"report {job.pk} ({job.get_edition_display()} edition)"
        for job in ReportJob.objects.order_by("pk")
    ]
    reviewer = [e.subject for e in case_timeline(user=world["reviewer"], case=world["case"]).events
                if e.kind == "report_requested"]  # fmt: skip
    assert reviewer == [s for s in owner if "Regulator" in s]
    logged_in(world["reviewer"]).get("/cases/CASE-20/timeline/")
    entry = LedgerEntry.objects.filter(action="viewed").latest("seq")
    assert (entry.actor, entry.details) == ("rita", {"page": "timeline"})


def test_a_further_basis_is_an_act_of_attribution_of_its_own(world):
    """Issue #20: a second basis given for accounts already attributed was on the case
    page but not on the timeline, so when the further proof came was nowhere to be read."""
    case_accounts_attribute(
        actor=world["owner"],
        case=world["case"],
        accounts=Account.objects.filter(account_id="acct_fox01"),
        basis="admission",
        detail="their letter of 3 May",
    )
    events = [(e.kind, e.label, e.subject, e.detail)
              for e in case_timeline(user=world["owner"], case=world["case"]).events
              if e.kind in ("attribution", "further_basis")]  # fmt: skip
    assert events[0][0] == "attribution"
    assert events[1] == (
        "further_basis",
        "Further basis of attribution",
        "1 account",
        "acct_fox01; further basis: Respondent's admission or records",
    )
    assert len(events) == 2
