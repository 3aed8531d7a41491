"""Reads on the case side. Access is enforced here, and only here, so no view can forget it."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from casework.models import Allegation, Case
from casework.permissions import AUDIT, case_can
from evidence.models import EvidenceItem, LedgerEntry


def case_list(*, user) -> QuerySet[Case]:
    """The cases `user` may open: those they are a member of (superusers see all)."""
    if not user.is_authenticated:
        return Case.objects.none()
    cases = Case.objects.all()
    if not user.is_superuser:
        cases = cases.filter(memberships__user=user)
    return cases.order_by("-opened_at")


def case_get(*, user, reference: str) -> Case:
    """The case if `user` may open it; otherwise Http404, as if it did not exist.

    A guessed reference must not reveal that a case exists.
    """
    return get_object_or_404(case_list(user=user), reference=reference)


def case_audit(*, user, case: Case):
    """Every act on the case and on files downloaded from it, for its owner only."""
    if not case_can(user, case, AUDIT):
        raise Http404("No case matches the given query.")
    return LedgerEntry.objects.filter(
        Q(object_type="case", object_id=case.reference) | Q(details__case=case.reference)
    ).order_by("seq")


def case_notes(*, user, case: Case):
    case = case_get(user=user, reference=case.reference)
    return case.notes.select_related("author").order_by("created_at")


def case_allegations(*, user, case: Case):
    case = case_get(user=user, reference=case.reference)
    return case.allegations.select_related("clause__version__document", "created_by").order_by(
        "created_at"
    )


def case_files(*, user, case: Case):
    """Evidence files of a case the user may open: report PDFs and supporting files."""
    case = case_get(user=user, reference=case.reference)
    ids = set(case.report_jobs.exclude(pdf=None).values_list("pdf_id", flat=True))
    supporting = Allegation.supporting_evidence.through.objects.filter(allegation__case=case)
    ids |= set(supporting.values_list("evidenceitem_id", flat=True))
    return EvidenceItem.objects.filter(pk__in=ids).order_by("-collected_at")


def case_file_get(*, user, case: Case, pk: int) -> EvidenceItem:
    return get_object_or_404(case_files(user=user, case=case), pk=pk)
