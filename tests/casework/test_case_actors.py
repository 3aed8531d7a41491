"""Who may act on a case: a user within their role on it, or a named system process.

A string is not a user: before, any string passed as the actor skipped the case's
permission check, so a typo or a caller's own label acted with every right.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from casework.services import case_hold_place, case_member_add, case_open
from evidence.custody.ledger import SystemActor
from evidence.models import LedgerEntry
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(counsel_user):
    return case_open(actor=counsel_user, reference="CASE-7", title="T", respondent="R")


@pytest.mark.parametrize("actor", [SystemActor.CLI, "system:demo", "system:reports"])
def test_a_named_system_process_acts_without_a_case_role(case, django_user_model, actor):
    viewer = user_with_role("vic", "viewer")
    case_member_add(actor=actor, case=case, user=viewer, role="viewer")
    entry = LedgerEntry.objects.filter(object_type="case", action="changed").get()
    assert entry.actor == str(actor)
    assert entry.details == {"member": "vic", "role": "viewer"}


@pytest.mark.parametrize("actor", ["mallory", "system:anyone", "system", "", None])
def test_any_other_actor_that_is_not_a_user_is_refused(case, django_user_model, actor):
    viewer = user_with_role("vic", "viewer")
    before = LedgerEntry.objects.count()
    with pytest.raises(PermissionDenied):
        case_member_add(actor=actor, case=case, user=viewer, role="viewer")
    with pytest.raises(PermissionDenied):
        case_hold_place(actor=actor, case=case)
    case.refresh_from_db()
    assert not case.legal_hold
    assert not case.memberships.filter(user=viewer).exists()
    assert LedgerEntry.objects.count() == before


def test_a_user_is_checked_against_their_role_on_the_case(case, django_user_model):
    outsider = user_with_role("mallory", "counsel")
    with pytest.raises(PermissionDenied):
        case_hold_place(actor=outsider, case=case)
    assert case_hold_place(actor=case.opened_by, case=case).legal_hold
