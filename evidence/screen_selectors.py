"""Reads of the screens accounts saw (`evidence.models.screens`): the record's readers
only, like the assent records the screens are tied to."""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from evidence.access import record_reader
from evidence.models import AssentRecord, AssentScreen, TermsVersion


def assent_screens(*, user) -> QuerySet[AssentScreen]:
    """Every screen on record, with the count of assent records naming its hash."""
    if not record_reader(user):
        return AssentScreen.objects.none()
    naming = (
        AssentRecord.objects.filter(screenshot_sha256=OuterRef("sha256"))
        .order_by()
        .values("screenshot_sha256")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return AssentScreen.objects.select_related("item", "terms_version__document").annotate(
        assent_records_naming=Coalesce(Subquery(naming), 0)
    )


def terms_version_screens(*, user, version: TermsVersion) -> QuerySet[AssentScreen]:
    """The screens that presented this version, or that its acceptances name by hash."""
    hashes = AssentRecord.objects.filter(terms_version=version).exclude(screenshot_sha256="")
    return (
        (
            assent_screens(user=user).filter(terms_version=version)
            | assent_screens(user=user).filter(sha256__in=hashes.values("screenshot_sha256"))
        )
        .distinct()
        .order_by("flow_id", "shown_from", "pk")
    )


def assent_screen_get(*, user, pk: int) -> AssentScreen:
    return get_object_or_404(assent_screens(user=user), pk=pk)
