"""Reads of countermeasures. Access is enforced here: a case's actions through the case
(members only, as `case_get` decides), partners' matches through the record."""

from __future__ import annotations

from django.db.models import QuerySet

from casework.countermeasures.models import EnforcementAction, IndicatorMatch
from casework.models import Case
from casework.selectors import case_get
from evidence.access import record_reader


def case_enforcement_actions(*, user, case: Case) -> QuerySet[EnforcementAction]:
    """The case's actions, oldest first, for its members (404 for anyone else)."""
    case = case_get(user=user, reference=case.reference)
    return (
        case.enforcement_actions.select_related("clause__version__document")
        .prefetch_related("accounts", "handoffs")
        .order_by("proposed_at", "pk")
    )


def account_partner_matches(*, user, account_ids) -> QuerySet[IndicatorMatch]:
    """Where else the accounts were seen: partners' indicators that matched them, newest
    import first. The record's readers only (a regulator's reviewer reads cases, not this)."""
    if not record_reader(user):
        return IndicatorMatch.objects.none()
    return (
        IndicatorMatch.objects.filter(account__account_id__in=list(account_ids))
        .select_related("exchange__partner", "account")
        .order_by("-exchange__exchanged_at", "account__account_id", "kind")
    )
