"""Review and sign-off (issue #18): a report is a draft until the people who stand behind it
approve it in Pacta, and the final report is built only from an approved draft.

Counsel on the case (`permissions.holds_counsel_role`) answer for the whole report; the
case's expert (the `expert` case role) for its methods sections, named in
`METHODS_SECTIONS`. A decision is a `ReportReview` row, never edited, written with its
ledger entry; the latest decision of each scope is the one that counts. An approval is of
the draft's snapshot, so the final report (a second job on the same snapshot and edition,
`final=True`, `draft` pointing at it) prints what was approved and nothing built since.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from casework.models import CaseRole, ReportJob, ReportReview
from casework.permissions import REPORT, case_role_of, holds_counsel_role
from casework.reports.jobs import ReportError, report_job_request
from casework.services import _require as review_require
from evidence.custody import events

# The report's sections (`pipeline.SECTIONS`) the expert answers for: the detectors and
# statistics, the charts drawn from them, and how damages were computed.
METHODS_SECTIONS = ("chronology", "methodology", "output_use", "damages")
SCOPE_OF_ROLE = {
    ReportReview.Role.COUNSEL: ReportReview.Scope.WHOLE,
    ReportReview.Role.EXPERT: ReportReview.Scope.METHODS,
}
# Who each scope needs, in the words of an error that names what is missing.
NEEDED = {
    ReportReview.Scope.WHOLE: "an approval by counsel on the case (the whole report)",
    ReportReview.Scope.METHODS: "an approval by the case's expert (the methods sections)",
}


class ReviewError(ReportError):
    """A review that cannot be recorded as asked; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def reviewer_role(user, case) -> str | None:
    """The part of a report `user` answers for on `case`: counsel, expert, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    if holds_counsel_role(user, case):
        return ReportReview.Role.COUNSEL
    if case_role_of(user, case) == CaseRole.EXPERT:
        return ReportReview.Role.EXPERT
    return None


def report_review(*, actor, job: ReportJob, decision: str, comment: str = "") -> ReportReview:
    """Record `actor`'s decision on the draft `job`, ledgered in the same transaction.

    Only counsel on the case and its expert review (others: PermissionDenied, 403); only a
    built draft is reviewed, and only until its final report is requested. A rejection
    says why (`comment`).
    """
    role = reviewer_role(actor, job.case)
    if role is None:
        raise PermissionDenied(
            "only counsel on the case (the whole report) and the case's expert (its methods "
            "sections) review reports"
        )
    if decision not in ReportReview.Decision.values:
        raise ReviewError(
            f"unknown decision {decision!r}: use {' or '.join(ReportReview.Decision.values)}",
            field="decision",
        )
    comment = (comment or "").strip()
    if decision == ReportReview.Decision.REJECT and not comment:
        raise ReviewError("a rejection says why: write the comment", field="comment")
    with transaction.atomic():
        job = ReportJob.objects.select_for_update().select_related("case").get(pk=job.pk)
        if job.final:
            raise ReviewError(
                f"report job {job.pk} is a final report: its draft (job {job.draft_id}) was "
                "the one reviewed",
                field="job",
            )
        if job.status != ReportJob.Status.DONE:
            raise ReviewError(
                f"draft report job {job.pk} is {job.status}: a draft is reviewed once it is built",
                field="job",
            )
        if ReportJob.objects.filter(draft=job).exists():
            raise ReviewError(
                f"the final report of draft job {job.pk} has been requested: its reviews are "
                "closed; request a new draft to review again",
                field="job",
            )
        review = ReportReview.objects.create(
            job=job,
            reviewer=actor,
            role=role,
            scope=SCOPE_OF_ROLE[role],
            decision=decision,
            comment=comment,
            at=timezone.now(),
        )
        events.report_reviewed(actor=actor, review=review)
    return review


@dataclass(frozen=True)
class SignOff:
    """Where a draft stands: the decision that counts in each scope, and what is missing."""

    job: ReportJob
    decisions: dict[str, ReportReview]

    @property
    def missing(self) -> list[str]:
        missing = []
        for scope, needed in NEEDED.items():
            review = self.decisions.get(scope)
            if review is None:
                missing.append(needed)
            elif review.decision != ReportReview.Decision.APPROVE:
                missing.append(
                    f"{needed}: {reviewer_name(review.reviewer)} rejected it ({review.comment})"
                )
        return missing

    @property
    def approved(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict:
        """The sign-off as a final report's ledger entry and pages name it."""
        return {
            "draft": self.job.pk,
            "snapshot_sha256": self.job.snapshot_sha256,
            "approvals": [
                {
                    "review": review.pk,
                    "role": review.role,
                    "scope": review.scope,
                    "reviewer": review.reviewer.get_username(),
                    "name": reviewer_name(review.reviewer),
                    "at": review.at.isoformat(),
                }
                for review in self.decisions.values()
            ],
        }


def reviewer_name(user) -> str:
    """The name a report prints for a reviewer: their full name, else their username."""
    return user.get_full_name() or user.get_username()


def report_sign_off(*, job: ReportJob) -> SignOff:
    """The latest decision in each scope on the draft `job` (a final job: on its draft)."""
    draft = job.draft if job.final else job
    latest: dict[str, ReportReview] = {}
    for review in ReportReview.objects.filter(job=draft).select_related("reviewer"):
        latest[review.scope] = review  # ordered by time: the last one stands
    return SignOff(job=draft, decisions=latest)


def sign_off_require(*, draft: ReportJob) -> SignOff:
    """The draft's sign-off, or ReportError naming every approval it still needs."""
    if draft.final:
        raise ReviewError(f"report job {draft.pk} is a final report, not a draft", field="job")
    if draft.status != ReportJob.Status.DONE:
        raise ReviewError(
            f"draft report job {draft.pk} is {draft.status}: build and review it first",
            field="job",
        )
    sign_off = report_sign_off(job=draft)
    if not sign_off.approved:
        raise ReviewError(
            f"draft report job {draft.pk} is not approved: it needs " + "; ".join(sign_off.missing),
            field="job",
        )
    return sign_off


def report_final_request(*, actor, draft: ReportJob, enqueue: bool = False) -> ReportJob:
    """The final report's job for an approved draft (the existing one if any): owner and
    counsel request it, as they request drafts (REPORT). What else a final report needs
    (declarant, signing identity, verification) is checked when it is built
    (`final.final_requirements`)."""
    review_require(actor, draft.case, REPORT)
    sign_off_require(draft=draft)
    return report_job_request(
        actor=actor, case=draft.case, edition=draft.edition, draft=draft, enqueue=enqueue
    )
