"""Review and sign-off of reports (issue #18): who may approve a draft, what an approval
binds, and that a reviewer's decision stands as given."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, InternalError, ProgrammingError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from casework.models import CaseRole, ReportJob, ReportReview
from casework.permissions import REPORT, case_can
from casework.reports.final import declarant
from casework.reports.review import ReviewError, report_review
from casework.services import CaseError, case_declarant_set
from evidence.models import LedgerEntry
from evidence.services import evidence_item_store
from tests.factories import case_with_members, token_client, user_with_role

pytestmark = pytest.mark.django_db

# What PostgreSQL raises when a trigger refuses (insufficient_privilege), as Django wraps it.
REFUSED = (InternalError, ProgrammingError)


@pytest.fixture
def people(db):
    return {
        "owner": user_with_role("olga", "counsel"),
        "counsel": user_with_role("carl", "counsel"),
        "expert": user_with_role("erin", "investigator"),
        "investigator": user_with_role("ivan", "investigator"),
    }


@pytest.fixture
def case(people):
    return case_with_members(
        owner=people["owner"],
        reference="PX-REV-1",
        members=[
            (people["counsel"], CaseRole.COUNSEL),
            (people["expert"], CaseRole.EXPERT),
            (people["investigator"], CaseRole.INVESTIGATOR),
        ],
    )


def _draft(case, user, **fields) -> ReportJob:
    fields = {"edition": "counsel", "snapshot_sha256": "ab" * 32, **fields}
    return ReportJob.objects.create(case=case, requested_by=user, **fields)


@pytest.fixture
def built(case, people, media_root):
    """A draft whose build finished (its PDF's contents do not matter to review it here)."""
    pdf = evidence_item_store(
        actor=people["owner"],
        stream=io.BytesIO(b"%PDF-1.7 a draft"),
        file_name="draft.pdf",
        kind="report_pdf",
        source="test",
    )
    return _draft(case, people["owner"], status=ReportJob.Status.DONE, pdf=pdf)


def test_an_expert_reads_and_notes_but_does_not_request_reports(case, people):
    assert not case_can(people["expert"], case, REPORT)
    assert case_can(people["counsel"], case, REPORT)


def test_a_final_job_needs_its_draft_and_a_draft_has_none(case, people):
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportJob.objects.create(
            case=case, edition="counsel", snapshot_sha256="ab" * 32,
            requested_by=people["owner"], final=True,
        )  # fmt: skip
    draft = _draft(case, people["owner"])
    final = ReportJob.objects.create(
        case=case, edition="counsel", snapshot_sha256="ab" * 32,
        requested_by=people["owner"], final=True, draft=draft,
    )  # fmt: skip
    assert final.draft == draft and draft.final_job == final


def test_a_review_cannot_be_edited_or_deleted(case, people):
    review = ReportReview.objects.create(
        job=_draft(case, people["owner"]),
        reviewer=people["counsel"],
        role=ReportReview.Role.COUNSEL,
        scope=ReportReview.Scope.WHOLE,
        decision=ReportReview.Decision.APPROVE,
        at=timezone.now(),
    )
    with pytest.raises(REFUSED, match="never changed"), transaction.atomic():
        ReportReview.objects.filter(pk=review.pk).update(decision="reject", comment="changed")
    with pytest.raises(REFUSED, match="never changed"), transaction.atomic():
        review.delete()
    review.refresh_from_db()
    assert review.decision == ReportReview.Decision.APPROVE


def test_a_rejection_says_why_and_roles_keep_to_their_scope(case, people):
    job = _draft(case, people["owner"])
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportReview.objects.create(
            job=job, reviewer=people["counsel"], role="counsel", scope="whole",
            decision="reject", at=now,
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        ReportReview.objects.create(
            job=job, reviewer=people["expert"], role="expert", scope="whole",
            decision="approve", at=now,
        )  # fmt: skip


# --- the service ------------------------------------------------------------------------


def test_counsel_and_the_expert_review_their_own_scope_and_each_decision_is_ledgered(built, people):
    whole = report_review(actor=people["counsel"], job=built, decision="approve")
    methods = report_review(
        actor=people["expert"], job=built, decision="reject", comment="State the null model."
    )
    assert (whole.role, whole.scope) == ("counsel", "whole")
    assert (methods.role, methods.scope) == ("expert", "methods")
    entry = LedgerEntry.objects.get(object_type="report_review", object_id=str(methods.pk))
    assert entry.object_sha256 == built.snapshot_sha256
    assert entry.details["decision"] == "reject" and entry.details["reviewer"] == "erin"
    assert entry.details["comment"] == "State the null model."


def test_only_counsel_and_the_expert_review(built, people):
    with pytest.raises(PermissionDenied):
        report_review(actor=people["investigator"], job=built, decision="approve")
    assert not ReportReview.objects.exists()


def test_a_draft_not_yet_built_or_a_final_report_is_not_reviewed(case, people, built):
    queued = _draft(case, people["owner"], snapshot_sha256="cd" * 32)
    with pytest.raises(ReviewError, match="is queued"):
        report_review(actor=people["counsel"], job=queued, decision="approve")
    final = _draft(case, people["owner"], final=True, draft=built)
    with pytest.raises(ReviewError, match="is a final report"):
        report_review(actor=people["counsel"], job=final, decision="approve")
    # Once its final report is requested, the draft's reviews are closed.
    with pytest.raises(ReviewError, match="reviews are closed"):
        report_review(actor=people["counsel"], job=built, decision="approve")


def test_a_rejection_without_a_reason_is_refused_naming_the_field(built, people):
    with pytest.raises(ReviewError) as error:
        report_review(actor=people["counsel"], job=built, decision="reject", comment="  ")
    assert error.value.field == "comment"
    with pytest.raises(ReviewError) as error:
        report_review(actor=people["counsel"], job=built, decision="maybe")
    assert error.value.field == "decision"


# --- the API ----------------------------------------------------------------------------


def _api(case, job) -> str:
    return f"/api/v1/cases/{case.reference}/reports/{job.pk}"


def test_the_api_takes_reviews_and_requests_the_final_report_once_approved(case, built, people):
    base = _api(case, built)
    counsel = token_client(people["counsel"], "read", "write")
    expert = token_client(people["expert"], "read", "write")
    refused = counsel.post(f"{base}/final/", format="json")
    assert refused.status_code == 400 and "job" in refused.json()["error"]["fields"]
    reply = counsel.post(f"{base}/reviews/", {"decision": "approve"}, format="json")
    assert reply.status_code == 201, reply.content
    assert reply.json()["reviewer"] == "carl" and reply.json()["scope"] == "whole"
    bad = expert.post(f"{base}/reviews/", {"decision": "reject"}, format="json")
    assert bad.status_code == 400 and "comment" in bad.json()["error"]["fields"]
    assert (
        expert.post(f"{base}/reviews/", {"decision": "approve"}, format="json").status_code == 201
    )
    # The expert reviews; the final report is counsel's to request.
    assert expert.post(f"{base}/final/", format="json").status_code == 403
    final = counsel.post(f"{base}/final/", format="json")
    assert final.status_code == 202, final.content
    body = final.json()
    assert body["final"] is True and body["draft"] == built.pk
    assert final["Location"].endswith(f"/reports/{body['id']}/")
    listed = counsel.get(f"{base}/reviews/").json()["results"]
    assert [(r["reviewer"], r["decision"]) for r in listed] == [
        ("carl", "approve"),
        ("erin", "approve"),
    ]


def test_the_api_refuses_reviews_from_others_and_hides_them_from_non_members(case, built, people):
    base = _api(case, built)
    investigator = token_client(people["investigator"], "read", "write")
    assert (
        investigator.post(f"{base}/reviews/", {"decision": "approve"}, format="json").status_code
        == 403
    )
    outsider = token_client(user_with_role("otto", "counsel"), "read", "write")
    assert outsider.get(f"{base}/reviews/").status_code == 404
    assert (
        outsider.post(f"{base}/reviews/", {"decision": "approve"}, format="json").status_code == 404
    )
    assert not ReportReview.objects.exists()


# --- the report page --------------------------------------------------------------------


def test_the_report_page_reviews_with_its_csrf_token(case, built, people):
    page_url = reverse("case_report", args=[case.reference, built.pk])
    review_url = reverse("case_report_review", args=[case.reference, built.pk])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people["expert"])
    page = browser.get(page_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "its methods sections, as the case" in html and 'name="csrfmiddlewaretoken"' in html
    assert browser.post(review_url, {"decision": "approve"}).status_code == 403  # no token
    token = page.cookies["csrftoken"].value
    done = browser.post(review_url, {"decision": "approve", "csrfmiddlewaretoken": token})
    assert done.status_code == 302 and done["Location"] == page_url
    assert ReportReview.objects.get().reviewer == people["expert"]
    # An investigator sees the sign-off but has no form, and a POST is refused.
    browser.force_login(people["investigator"])
    html = browser.get(page_url).content.decode()
    assert "methods sections: <strong>approved</strong>" in html.lower()
    assert review_url not in html
    assert browser.post(
        review_url, {"decision": "approve", "csrfmiddlewaretoken": token}
    ).status_code in (403,)


def test_counsel_builds_the_final_report_from_the_page_once_approved(case, built, people):
    report_review(actor=people["counsel"], job=built, decision="approve")
    report_review(actor=people["expert"], job=built, decision="approve")
    browser = Client()
    browser.force_login(people["counsel"])
    final_url = reverse("case_report_final", args=[case.reference, built.pk])
    assert (
        final_url
        in browser.get(reverse("case_report", args=[case.reference, built.pk])).content.decode()
    )
    response = browser.post(final_url)
    final = ReportJob.objects.get(final=True)
    assert response.status_code == 302
    assert response["Location"] == reverse("case_report", args=[case.reference, final.pk])
    assert final.draft == built and final.status == ReportJob.Status.QUEUED


# --- the case's declarant ---------------------------------------------------------------

DANA = {
    "name": "Dana Declarant",
    "title": "Custodian of Records",
    "organisation": "Aster Systems, Inc.",
    "place": "San Francisco, California",
}


def test_a_case_names_its_declarant_whole_or_not_at_all(case, people, settings):
    settings.PACTA_REPORT_DECLARANT_NAME = "From Settings"
    with pytest.raises(CaseError) as error:
        case_declarant_set(actor=people["counsel"], case=case, **{**DANA, "place": " "})
    assert error.value.field == "place"
    assert declarant(case)["name"] == "From Settings"
    case = case_declarant_set(actor=people["counsel"], case=case, **DANA)
    assert {k: declarant(case)[k] for k in DANA} == DANA
    entry = LedgerEntry.objects.get(object_type="case_declarant", object_id=case.reference)
    assert entry.details == {"declarant": DANA}
    case = case_declarant_set(actor=people["owner"], case=case)  # all blank: the settings again
    assert declarant(case)["name"] == "From Settings"
    with pytest.raises(PermissionDenied):
        case_declarant_set(actor=people["expert"], case=case, **DANA)


def test_the_api_and_the_report_page_name_the_declarant(case, built, people):
    url = f"/api/v1/cases/{case.reference}/declarant/"
    counsel = token_client(people["counsel"], "read", "write")
    partial = counsel.post(url, {"name": "Dana Declarant"}, format="json")
    assert partial.status_code == 400 and "title" in partial.json()["error"]["fields"]
    assert counsel.post(url, DANA, format="json").json() == DANA
    expert = token_client(people["expert"], "read", "write")
    assert expert.post(url, DANA, format="json").status_code == 403

    browser = Client()
    browser.force_login(people["counsel"])
    page = browser.get(reverse("case_report", args=[case.reference, built.pk])).content.decode()
    assert 'name="organisation"' in page and "Dana Declarant" in page
    browser.post(
        reverse("case_report_declarant", args=[case.reference, built.pk]),
        {**DANA, "name": "Dee Other"},
    )
    case.refresh_from_db()
    assert case.declarant_name == "Dee Other"
