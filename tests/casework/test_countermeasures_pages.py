"""The case page's countermeasures, as the team uses them: actions, notices and their
deadlines listed; an investigator proposes, counsel approves and sends notices; the forms
carry CSRF tokens; a regulator's reviewer on the case does not see the section at all."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from casework.countermeasures.models import EnforcementAction, Notice
from casework.services import case_member_add
from tests.casework.test_enforcement_actions import propose, world  # noqa: F401  (fixture)
from tests.casework.test_notices import alleged  # noqa: F401  (fixture)
from tests.factories import user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root", "signing")]

PAGE = "/cases/CASE-22/"
PROPOSAL = {
    "kind": "suspend",
    "reason": "Automated extraction from two linked accounts.",
    "effective_at": "2026-02-01 00:00",
    "accounts": "acct_fox01 acct_fox02",
}


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_sees_actions_notices_and_the_forms(alleged):  # noqa: F811
    propose(alleged)
    page = logged_in(alleged["owner"]).get(PAGE).content.decode()
    assert 'id="countermeasures-heading"' in page
    assert "Suspension" in page and "Proposed" in page and "ivan" in page
    assert "Propose an action" in page and "Send a notice" in page
    assert "/actions/" in page and "approve/" in page


def test_an_investigator_proposes_through_the_page_but_neither_approves_nor_sends(alleged):  # noqa: F811
    client = logged_in(alleged["investigator"])
    data = {**PROPOSAL, "clause": alleged["clause"].pk}
    response = client.post(f"{PAGE}actions/", data)
    assert response.status_code == 302
    action = EnforcementAction.objects.get()
    assert (action.kind, action.proposed_by) == ("suspend", alleged["investigator"])
    page = client.get(PAGE).content.decode()
    assert "Propose an action" in page
    assert "Send a notice" not in page and "approve/" not in page
    assert client.post(f"{PAGE}actions/{action.pk}/approve/").status_code == 403
    assert client.post(f"{PAGE}notices/", {"kind": "breach", "to": "l@fox.test"}).status_code == 403
    assert EnforcementAction.objects.get().state == "proposed" and not Notice.objects.exists()


def test_a_proposal_outside_the_case_is_refused_on_the_page_naming_the_field(alleged):  # noqa: F811
    client = logged_in(alleged["owner"])
    data = {**PROPOSAL, "clause": alleged["clause"].pk, "accounts": "acct_fox01 acct_by"}
    response = client.post(f"{PAGE}actions/", data)
    assert response.status_code == 400
    assert "acct_by" in response.content.decode() and "not attributed" in response.content.decode()
    assert not EnforcementAction.objects.exists()


def test_termination_is_approved_on_the_page_by_a_second_counsel(alleged):  # noqa: F811
    action = propose(alleged, "terminate", actor=alleged["owner"])
    owner = logged_in(alleged["owner"])
    response = owner.post(f"{PAGE}actions/{action.pk}/approve/", follow=True)
    assert "a second person must approve it" in response.content.decode()
    assert EnforcementAction.objects.get().state == "proposed"
    logged_in(alleged["counsel"]).post(f"{PAGE}actions/{action.pk}/approve/")
    action.refresh_from_db()
    assert (action.state, action.approved_by) == ("approved", alleged["counsel"])


def test_counsel_sends_a_notice_from_the_page_and_sees_its_deadline(alleged):  # noqa: F811
    client = logged_in(alleged["counsel"])
    response = client.post(
        f"{PAGE}notices/", {"kind": "breach", "to": "legal@fox.test", "cure_days": "7"}
    )
    assert response.status_code == 302
    notice = Notice.objects.get()
    [message] = mail.outbox
    assert message.attachments[0][0] == notice.pdf.file_name
    page = client.get(PAGE).content.decode()
    assert notice.reference in page and "Handed to the mail server" in page
    assert f"Cure period ends: {notice.deadline_at:%Y-%m-%d %H:%M}" in page
    assert "Due " in page  # the deadlines list


def test_a_bad_notice_form_names_the_field(alleged):  # noqa: F811
    client = logged_in(alleged["owner"])
    response = client.post(f"{PAGE}notices/", {"kind": "preservation", "to": "l@fox.test",
                                               "cure_days": "5"})  # fmt: skip
    assert response.status_code == 400
    assert "a cure period is given in a notice of breach only" in response.content.decode()
    assert not Notice.objects.exists() and not mail.outbox


def test_the_forms_need_their_csrf_token(alleged):  # noqa: F811
    client = Client(enforce_csrf_checks=True)
    client.force_login(alleged["owner"])
    data = {**PROPOSAL, "clause": alleged["clause"].pk}
    assert client.post(f"{PAGE}actions/", data).status_code == 403
    assert client.post(f"{PAGE}notices/", {"kind": "breach", "to": "l@x.test"}).status_code == 403
    page = client.get(PAGE).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 2
    assert not EnforcementAction.objects.exists() and not Notice.objects.exists()


def test_a_regulators_reviewer_does_not_see_the_section(alleged):  # noqa: F811
    propose(alleged)
    reviewer = user_with_role("rita", "viewer")
    case_member_add(
        actor=alleged["owner"], case=alleged["case"], user=reviewer, role="external_reviewer"
    )
    client = logged_in(reviewer)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert 'id="countermeasures-heading"' not in page.content.decode()
    assert client.post(f"{PAGE}actions/", {**PROPOSAL}).status_code == 403
