"""Reads on the case side. Access is enforced here, and only here, so no view can forget it."""

from __future__ import annotations

from django.db.models import QuerySet

from casework.models import Case


def case_list(*, user) -> QuerySet[Case]:
    """The cases `user` may open: those they are a member of (superusers see all)."""
    if not user.is_authenticated:
        return Case.objects.none()
    cases = Case.objects.all()
    if not user.is_superuser:
        cases = cases.filter(memberships__user=user)
    return cases.order_by("-opened_at")
