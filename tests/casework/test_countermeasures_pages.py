"""The case page's countermeasures, as the team uses them: actions, notices and their
deadlines listed; an investigator proposes, counsel approves and sends notices; the forms
carry CSRF tokens; a regulator's reviewer on the case does not see the section at all."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from django.core import mail
from django.test import Client

from casework.countermeasures.indicators import (
    indicators_export,
    indicators_import,
    sharing_partner_add,
)
from casework.countermeasures.models import ActionHandoff, EnforcementAction, Notice
from casework.countermeasures.services import action_approve
from casework.services import case_member_add
from evidence.models import LedgerEntry
from tests.casework.test_enforcement_actions import (  # noqa: F401  (fixture)
    action_entries,
    propose,
    world,
)
from tests.casework.test_notices import alleged  # noqa: F401  (fixture)
from tests.factories import finished_cluster, user_with_role

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


# --- after approval: hand-off, confirmation, reversal --------------------------------------


def approved(alleged):  # noqa: F811
    action = propose(alleged, actor=alleged["owner"])
    return action_approve(actor=alleged["owner"], action=action)


def test_counsel_sends_by_csv_records_the_confirmation_and_reverses_on_the_page(alleged):  # noqa: F811
    action = approved(alleged)
    client = logged_in(alleged["counsel"])
    page = client.get(PAGE).content.decode()
    assert f"actions/{action.pk}/send/" in page and "Mark sent to the platform" in page
    assert 'value="webhook"' not in page  # no platform webhook configured: CSV only
    client.post(f"{PAGE}actions/{action.pk}/send/", {"channel": "csv"})
    action.refresh_from_db()
    assert (action.state, action.sent_via) == ("sent", "csv")
    page = client.get(PAGE).content.decode()
    assert f"actions/{action.pk}/confirm/" in page and "(by csv)" in page
    client.post(f"{PAGE}actions/{action.pk}/confirm/", {"platform_reference": "PLAT-77"})
    action.refresh_from_db()
    assert (action.state, action.platform_reference) == ("confirmed", "PLAT-77")
    response = client.post(f"{PAGE}actions/{action.pk}/reverse/", {"reason": " "}, follow=True)
    assert "Reason for reversal: This field is required." in response.content.decode()
    assert EnforcementAction.objects.get().state == "confirmed"
    client.post(f"{PAGE}actions/{action.pk}/reverse/", {"reason": "Breach cured on 3 March."})
    action.refresh_from_db()
    assert (action.state, action.reversal_reason) == ("reversed", "Breach cured on 3 March.")
    steps = [(d["from"], d["state"]) for kind, d in action_entries(action) if kind == "changed"]
    assert steps == [
        ("proposed", "approved"),
        ("approved", "sent"),
        ("sent", "confirmed"),
        ("confirmed", "reversed"),
    ]
    entries = LedgerEntry.objects.filter(object_type="enforcement_action", object_id=action.pk)
    assert entries.filter(actor=alleged["counsel"].username).count() == 3
    assert "Reversed" in client.get(PAGE).content.decode()


def test_a_step_from_the_wrong_state_is_refused_with_the_state(alleged):  # noqa: F811
    action = approved(alleged)
    client = logged_in(alleged["owner"])
    response = client.post(
        f"{PAGE}actions/{action.pk}/confirm/", {"platform_reference": "PLAT-1"}, follow=True
    )
    assert f"action {action.pk} is approved" in response.content.decode()
    assert EnforcementAction.objects.get().state == "approved"


def test_the_webhook_is_offered_when_configured_and_queues_a_hand_off(
    alleged,  # noqa: F811
    settings,
    django_capture_on_commit_callbacks,
):
    action = approved(alleged)
    client = logged_in(alleged["owner"])
    response = client.post(f"{PAGE}actions/{action.pk}/send/", {"channel": "webhook"}, follow=True)
    assert "Send by: Select a valid choice." in response.content.decode()
    assert EnforcementAction.objects.get().state == "approved"
    settings.PACTA_ENFORCEMENT_WEBHOOK_URL = "https://platform.example/enforce"
    settings.PACTA_ENFORCEMENT_WEBHOOK_SECRET = "s" * 32
    assert 'value="webhook"' in client.get(PAGE).content.decode()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(f"{PAGE}actions/{action.pk}/send/", {"channel": "webhook"})
    assert len(queued) == 1
    handoff = ActionHandoff.objects.get(action=action)
    assert (handoff.transition, handoff.status) == ("send", "pending")
    assert "Webhook carry out: pending, 0 attempts" in client.get(PAGE).content.decode()


def test_the_platform_csv_downloads_as_ledgered(alleged):  # noqa: F811
    action = approved(alleged)
    response = logged_in(alleged["owner"]).post(f"{PAGE}actions/csv/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="CASE-22-actions-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["action_id"], r["state"]) for r in rows] == [(str(action.pk), "approved")]
    entry = LedgerEntry.objects.get(object_type="case", object_id="CASE-22", action="exported")
    assert entry.object_sha256 == hashlib.sha256(response.content).hexdigest()
    assert entry.details["enforcement_actions"] == [action.pk]


def test_only_those_who_manage_the_case_take_these_steps(alleged):  # noqa: F811
    action = approved(alleged)
    client = logged_in(alleged["investigator"])
    page = client.get(PAGE).content.decode()
    assert "Mark sent to the platform" not in page and "Download the CSV" not in page
    assert client.post(f"{PAGE}actions/{action.pk}/send/", {"channel": "csv"}).status_code == 403
    assert client.post(f"{PAGE}actions/csv/").status_code == 403
    reverse = client.post(f"{PAGE}actions/{action.pk}/reverse/", {"reason": "no"})
    assert reverse.status_code == 403
    stranger = logged_in(user_with_role("sam", "counsel"))
    assert stranger.post(f"{PAGE}actions/{action.pk}/send/", {"channel": "csv"}).status_code == 404
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(alleged["owner"])
    assert csrf.post(f"{PAGE}actions/{action.pk}/send/", {"channel": "csv"}).status_code == 403
    assert EnforcementAction.objects.get().state == "approved"
    assert not LedgerEntry.objects.filter(object_type="case", action="exported").exists()


def test_an_import_that_matched_the_case_accounts_is_listed_with_its_counts(alleged, tmp_path):  # noqa: F811
    cluster = finished_cluster("C-0031", ["acct_fox01", "acct_fox02"])
    beta = sharing_partner_add(actor="system:cli", name="beta", key="ef" * 32)
    alpha = sharing_partner_add(actor="system:cli", name="alpha", key="ef" * 32)
    out = tmp_path / "bundle.json"
    indicators_export(actor="system:cli", cluster=cluster, partner=beta, out=out)
    exchange = indicators_import(actor="system:cli", path=out, partner=alpha)
    assert exchange.counts["matches"] >= 2
    page = logged_in(alleged["owner"]).get(PAGE).content.decode()
    assert "Received from the partner" in page and "alpha" in page
    assert f"matches {exchange.counts['matches']}" in page
    assert f"email {exchange.counts['email']}" in page
