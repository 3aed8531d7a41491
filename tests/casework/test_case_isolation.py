"""No case leaks into another: what a member reaches through their case, who may give
roles on it, and what the ledger tells someone who is not on it.

Before, counsel on one case could cite another case's files by id (ids are sequential) and
then download them through their own case, a regulator's reviewer included; a counsel
member could make themselves owner; any role could be given to anyone; and the ledger of
an account or a file told any record reader which cases used it and who downloaded what.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import Http404
from rest_framework.test import APIClient

from casework.models import Allegation, CaseMembership, CaseRole, ReportJob
from casework.permissions import case_role_of
from casework.reports.snapshot import case_snapshot
from casework.selectors import case_files, case_get, case_notes, case_report_jobs
from casework.services import (
    CaseError,
    allegation_add,
    case_accounts_attribute,
    case_member_add,
    case_open,
)
from evidence.custody import events
from evidence.models import Account, Clause, EvidenceItem, LedgerEntry, TermsDocument, TermsVersion
from evidence.services import evidence_item_store
from tests.factories import user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _file(actor, name: str, kind: str) -> EvidenceItem:
    return evidence_item_store(
        actor=actor, stream=io.BytesIO(name.encode()), file_name=name, kind=kind, source="test"
    )


def _report(case, edition: str, actor) -> tuple[EvidenceItem, EvidenceItem]:
    """A finished report as the pipeline stores it: the job points at its PDF, and the
    report's ledger entry lists the exhibit stored with it."""
    pdf = _file(actor, f"{case.reference}-{edition}-report.pdf", "report_pdf")
    exhibit = _file(actor, f"{case.reference}-{edition}-exhibit-1.csv", "exhibit")
    job = ReportJob.objects.create(
        case=case,
        edition=edition,
        snapshot_sha256=_sha(case.reference + edition),
        requested_by=actor,
        status=ReportJob.Status.DONE,
        percent=100,
        pdf=pdf,
    )
    attachment = {
        "file_name": "exhibit-1.csv",
        "sha256": exhibit.sha256,
        "evidence_item": exhibit.pk,
    }
    events.report_built(
        actor=actor,
        job=job,
        pdf=pdf,
        ledger_certified={"seq": 0},
        pages=1,
        signature={},
        attachments=[attachment],
        seconds_by_stage={},
    )
    return pdf, exhibit


class World:
    """Case A (owner alice, counsel carl, viewer vic, reviewer rita) with a counsel and a
    regulator edition built; case B of mallory, counsel on nothing else; a record file."""

    def __init__(self, django_user_model) -> None:
        self.alice = user_with_role("alice", "counsel")
        self.carl = user_with_role("carl", "counsel")
        self.vic = user_with_role("vic", "viewer")
        self.rita = user_with_role("rita", "external reviewer")
        self.mallory = user_with_role("mallory", "counsel")
        document = TermsDocument.objects.create(slug="services", title="Services Agreement")
        version = TermsVersion.objects.create(
            document=document,
            label="2025-06-01",
            effective_date=dt.date(2025, 6, 1),
            text="3.3 You may not extract Output.",
            text_sha256=_sha("3.3 You may not extract Output."),
        )
        self.clause = Clause.objects.create(
            version=version,
            path="3.3",
            text="You may not extract Output.",
            text_sha256=_sha("You may not extract Output."),
            position=1,
        )
        self.account = Account.objects.create(account_id="acct_a", email="a@example.test")
        self.a = case_open(actor=self.alice, reference="CASE-A", title="A", respondent="Fox")
        case_member_add(actor=self.alice, case=self.a, user=self.carl, role="counsel")
        case_member_add(actor=self.alice, case=self.a, user=self.vic, role="viewer")
        case_member_add(actor=self.alice, case=self.a, user=self.rita, role="external_reviewer")
        case_accounts_attribute(
            actor=self.alice, case=self.a, accounts=[self.account], basis="payment"
        )
        self.counsel_pdf, self.counsel_exhibit = _report(self.a, "counsel", self.alice)
        self.regulator_pdf, self.regulator_exhibit = _report(self.a, "regulator", self.alice)
        self.rejects = _file("system:test", "usage.rejects.ndjson", "ingest_rejects")
        self.b = case_open(actor=self.mallory, reference="CASE-B", title="B", respondent="Fox")

    def client(self, user) -> APIClient:
        client = APIClient()
        client.force_login(user)
        return client


@pytest.fixture
def world(django_user_model, settings) -> World:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return World(django_user_model)


def _allege(world, user, reference: str, items: list[EvidenceItem]):
    """An allegation through the API, citing `items` in support."""
    return world.client(user).post(
        f"/api/v1/cases/{reference}/allegations/",
        {
            "clause": world.clause.pk,
            "theory": "Outputs extracted.",
            "evidence_items": [item.pk for item in items],
        },
        format="json",
    )


def _exported(item: EvidenceItem) -> int:
    return LedgerEntry.objects.filter(
        object_type="evidence_item", object_id=str(item.pk), action="exported"
    ).count()


# --- citations ------------------------------------------------------------------------------


def test_another_cases_files_cannot_be_cited_through_the_api(world):
    before = LedgerEntry.objects.count()
    for item in (world.counsel_pdf, world.counsel_exhibit, world.regulator_pdf):
        response = _allege(world, world.mallory, "CASE-B", [item])
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert f"evidence item {item.pk}:" in error["fields"]["evidence_items"][0]
        # The refused citation gave nothing to download through case B either.
        download = world.client(world.mallory).get(f"/cases/CASE-B/files/{item.pk}/download/")
        assert download.status_code == 404
        assert _exported(item) == 0
    assert not Allegation.objects.filter(case=world.b).exists()
    assert LedgerEntry.objects.count() == before


def test_another_cases_files_cannot_be_cited_through_the_form(world, client):
    client.force_login(world.mallory)
    response = client.post(
        "/cases/CASE-B/allegations/",
        {
            "clause": world.clause.pk,
            "theory": "Outputs extracted.",
            "evidence_items": f"{world.rejects.pk}, {world.counsel_pdf.pk}",
        },
    )
    assert response.status_code == 400
    assert f"evidence item {world.counsel_pdf.pk}:" in response.content.decode()
    assert not Allegation.objects.filter(case=world.b).exists()
    assert client.get(f"/cases/CASE-B/files/{world.counsel_pdf.pk}/download/").status_code == 404
    assert _exported(world.counsel_pdf) == 0
    response = client.post(
        "/cases/CASE-B/allegations/",
        {"clause": world.clause.pk, "theory": "Outputs extracted.", "evidence_items": "7 x"},
    )
    assert response.status_code == 400
    assert "Not an evidence file id: x" in response.content.decode()


def test_a_record_file_is_cited_and_the_citation_ledgered(world):
    response = _allege(world, world.mallory, "CASE-B", [world.rejects])
    assert response.status_code == 201, response.content
    assert response.json()["supporting_evidence"] == [world.rejects.pk]
    cited = LedgerEntry.objects.get(
        object_type="evidence_item", object_id=str(world.rejects.pk), action="linked"
    )
    assert cited.details["case"] == "CASE-B"
    assert cited.details["allegation"] == response.json()["id"]
    assert cited.object_sha256 == world.rejects.sha256


def test_a_case_cites_its_own_reports_files_in_the_editions_its_member_sees(world):
    response = _allege(world, world.carl, "CASE-A", [world.counsel_exhibit, world.regulator_pdf])
    assert response.status_code == 201, response.content
    assert set(response.json()["supporting_evidence"]) == {
        world.counsel_exhibit.pk,
        world.regulator_pdf.pk,
    }


def test_a_file_of_another_case_is_not_downloadable_through_a_case_citing_it(world, client):
    """A citation made before the rule (the row as today's code wrote it) opens nothing."""
    allegation = Allegation.objects.create(
        case=world.b, clause=world.clause, theory="Outputs extracted.", created_by=world.mallory
    )
    allegation.supporting_evidence.add(world.counsel_pdf, world.counsel_exhibit, world.rejects)
    client.force_login(world.mallory)
    for item in (world.counsel_pdf, world.counsel_exhibit):
        assert client.get(f"/cases/CASE-B/files/{item.pk}/download/").status_code == 404
        assert _exported(item) == 0
    assert client.get(f"/cases/CASE-B/files/{world.rejects.pk}/download/").status_code == 200
    listed = world.client(world.mallory).get(f"/api/v1/cases/CASE-B/allegations/{allegation.pk}/")
    assert listed.json()["supporting_evidence"] == [world.rejects.pk]


def test_an_external_reviewer_never_gets_a_counsel_edition_file_even_if_cited(world, client):
    cited = [world.counsel_pdf, world.counsel_exhibit, world.regulator_exhibit]
    response = _allege(world, world.alice, "CASE-A", cited)
    assert response.status_code == 201, response.content
    allegation = response.json()["id"]
    client.force_login(world.rita)
    for item in (world.counsel_pdf, world.counsel_exhibit):
        assert client.get(f"/cases/CASE-A/files/{item.pk}/download/").status_code == 404
        assert _exported(item) == 0
    page = client.get("/cases/CASE-A/").content.decode()
    assert world.counsel_exhibit.file_name not in page
    response = client.get(f"/cases/CASE-A/files/{world.regulator_exhibit.pk}/download/")
    assert response.status_code == 200
    shown = world.client(world.rita).get(f"/api/v1/cases/CASE-A/allegations/{allegation}/")
    assert shown.json()["supporting_evidence"] == [world.regulator_exhibit.pk]
    # The team still reaches the counsel edition's files through the case.
    client.force_login(world.vic)
    assert (
        client.get(f"/cases/CASE-A/files/{world.counsel_exhibit.pk}/download/").status_code == 200
    )


# --- roles and membership ---------------------------------------------------------------------


def _role(world, user) -> str | None:
    return (
        CaseMembership.objects.filter(case=world.a, user=user)
        .values_list("role", flat=True)
        .first()
    )


def test_counsel_cannot_make_themselves_owner_or_demote_the_owner(world, client):
    client.force_login(world.carl)
    for username, role in (("carl", "owner"), ("alice", "viewer"), ("vic", "viewer"), ("x", "")):
        response = client.post("/cases/CASE-A/members/", {"username": username, "role": role})
        assert response.status_code == 403, (username, role)
    assert _role(world, world.carl) == "counsel"
    assert _role(world, world.alice) == "owner"
    assert _role(world, world.vic) == "viewer"
    assert "Add or change a member" not in client.get("/cases/CASE-A/").content.decode()


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("vic", "owner"),
        ("vic", "counsel"),
        ("rita", "owner"),
        ("rita", "counsel"),
        ("rita", "viewer"),
    ],
)
def test_a_role_above_the_users_global_role_is_refused(world, client, username, role):
    client.force_login(world.alice)
    before = LedgerEntry.objects.count()
    response = client.post("/cases/CASE-A/members/", {"username": username, "role": role})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert f"global role does not allow the case role {role!r}" in page
    user = world.vic if username == "vic" else world.rita
    assert _role(world, user) == ("viewer" if username == "vic" else "external_reviewer")
    assert LedgerEntry.objects.count() == before


def test_ownership_passes_only_from_owner_to_another_member(world, client):
    client.force_login(world.alice)
    response = client.post("/cases/CASE-A/members/", {"username": "alice", "role": "counsel"})
    assert response.status_code == 400
    assert "only owner of case CASE-A" in response.content.decode()
    assert _role(world, world.alice) == "owner"
    assert (
        client.post("/cases/CASE-A/members/", {"username": "carl", "role": "owner"}).status_code
        == 302
    )
    assert (
        client.post("/cases/CASE-A/members/", {"username": "alice", "role": "counsel"}).status_code
        == 302
    )
    assert _role(world, world.carl) == "owner" and _role(world, world.alice) == "counsel"


def test_an_admin_on_the_case_sets_its_members_as_its_owner_does(world, client, django_user_model):
    ada = user_with_role("ada", "admin")
    case_member_add(actor=world.alice, case=world.a, user=ada, role="investigator")
    client.force_login(ada)
    response = client.post("/cases/CASE-A/members/", {"username": "carl", "role": "owner"})
    assert response.status_code == 302
    assert _role(world, world.carl) == "owner"


def test_a_role_recorded_above_the_global_role_acts_as_that_role(world):
    """A membership written by hand, or before a global role was withdrawn, never
    outranks the user's global role."""
    CaseMembership.objects.filter(case=world.a, user=world.rita).update(role=CaseRole.OWNER)
    CaseMembership.objects.filter(case=world.a, user=world.vic).update(role=CaseRole.COUNSEL)
    for user in (world.rita, world.vic):
        user._pacta_case_roles = {}
    assert case_role_of(world.rita, world.a) == CaseRole.EXTERNAL_REVIEWER
    assert case_role_of(world.vic, world.a) == CaseRole.VIEWER
    with pytest.raises(Exception, match="does not allow this"):
        allegation_add(actor=world.vic, case=world.a, clause=world.clause, theory="x")
    with pytest.raises(CaseError, match="global role does not allow"):
        case_member_add(actor=world.alice, case=world.a, user=world.vic, role="counsel")


# --- ledger lookups ---------------------------------------------------------------------------


def _ledger(client, path: str):
    response = client.get(path)
    return response.status_code, (response.json()["results"] if response.status_code == 200 else [])


def test_ledger_lookups_hide_other_cases_entries_from_a_non_member(world, client):
    client.force_login(world.alice)
    assert client.get(f"/cases/CASE-A/files/{world.regulator_pdf.pk}/download/").status_code == 200
    assert _allege(world, world.alice, "CASE-A", [world.rejects]).status_code == 201
    assert client.get(f"/cases/CASE-A/files/{world.rejects.pk}/download/").status_code == 200

    outsider = world.client(world.mallory)
    status, account = _ledger(outsider, "/api/v1/ledger/account/acct_a/")
    assert status == 200 and not any(e["details"].get("case") == "CASE-A" for e in account)
    status, rejects = _ledger(outsider, f"/api/v1/ledger/evidence_item/{world.rejects.pk}/")
    assert status == 200
    assert [e["action"] for e in rejects] == ["collected"]  # the record's own entry stays
    # A report's files are case A's: their custody does not exist for someone not on it.
    for item in (world.counsel_pdf, world.regulator_pdf, world.counsel_exhibit):
        assert _ledger(outsider, f"/api/v1/ledger/evidence_item/{item.pk}/")[0] == 404

    # On the case: counsel sees the acts, only the owner who downloaded what.
    carl = world.client(world.carl)
    _, account = _ledger(carl, "/api/v1/ledger/account/acct_a/")
    assert [e["details"].get("case") for e in account if e["action"] == "linked"] == ["CASE-A"]
    _, rejects = _ledger(carl, f"/api/v1/ledger/evidence_item/{world.rejects.pk}/")
    assert [e["action"] for e in rejects] == ["collected", "linked"]
    status, _ = _ledger(carl, f"/api/v1/ledger/evidence_item/{world.counsel_pdf.pk}/")
    assert status == 200
    _, rejects = _ledger(
        world.client(world.alice), f"/api/v1/ledger/evidence_item/{world.rejects.pk}/"
    )
    assert [e["action"] for e in rejects] == ["collected", "linked", "exported"]


def test_a_reports_custody_of_a_shared_record_file_names_no_other_case(world):
    """Both cases cite the same ingest-rejects file; case A's report shows the file's record
    history and case A's own citation, never that case B cited (or held) it."""
    assert _allege(world, world.alice, "CASE-A", [world.rejects]).status_code == 201
    assert _allege(world, world.mallory, "CASE-B", [world.rejects]).status_code == 201
    snapshot = case_snapshot(case=world.a)
    (shared,) = [f for f in snapshot.data["custody"]["files"] if f["id"] == world.rejects.pk]
    seqs = {e["ledger_seq"] for e in shared["history"]}
    named = {
        entry.details.get("case")
        for entry in LedgerEntry.objects.filter(seq__in=seqs)
        if entry.details.get("case")
    }
    assert named == {"CASE-A"}
    cited_by_b = LedgerEntry.objects.get(
        object_type="evidence_item", object_id=str(world.rejects.pk), details__case="CASE-B"
    )
    assert cited_by_b.seq not in seqs


def test_a_case_read_for_one_member_is_checked_again_for_anyone_else(world):
    """The case page checks access once and hands the case it read to every section; a
    case read for one user and handed to a selector with another is checked afresh."""
    case = case_get(user=world.alice, reference="CASE-A")
    assert list(case_notes(user=world.alice, case=case)) == []
    with pytest.raises(Http404):
        case_notes(user=world.mallory, case=case)
    with pytest.raises(Http404):
        case_files(user=get_user_model().objects.get(pk=world.alice.pk), case=world.b)
    mallorys = case_get(user=world.mallory, reference="CASE-B")
    with pytest.raises(Http404):
        case_report_jobs(user=world.alice, case=mallorys)
