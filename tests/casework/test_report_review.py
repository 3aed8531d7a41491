"""Review and sign-off of reports (issue #18): who may approve a draft, what an approval
binds, and that a reviewer's decision stands as given."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, transaction
from django.utils import timezone

from casework.models import CaseRole, ReportJob, ReportReview
from casework.permissions import REPORT, case_can
from tests.factories import case_with_members, user_with_role

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


def _draft(case, user) -> ReportJob:
    return ReportJob.objects.create(
        case=case, edition="counsel", snapshot_sha256="ab" * 32, requested_by=user
    )


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
