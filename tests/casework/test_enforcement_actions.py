"""Enforcement actions as counsel and the platform rely on them: an action rests on a clause
and names only the case's own accounts, keys, cards and ranges; termination and blocks
need a second person holding counsel's role; each step is taken from the right state and
ledgered; the platform is told through a signed, idempotent webhook that is retried while
it is down; and the case's actions can leave as a CSV file instead."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import Http404

from casework.countermeasures.handoff import SIGNATURE_HEADER, webhook_signature
from casework.countermeasures.models import ActionHandoff, EnforcementAction
from casework.countermeasures.selectors import case_enforcement_actions
from casework.countermeasures.services import (
    ActionError,
    action_approve,
    action_confirm,
    action_propose,
    action_reverse,
    action_send,
)
from casework.countermeasures.tasks import action_handoff_task
from casework.services import case_member_add
from evidence.ingest.service import ingest_file
from evidence.models import Account, Clause, LedgerEntry
from tests.factories import case_with_members, ndjson_file, terms_version, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
SECRET = "test-webhook-secret-not-a-real-one"
TERMS = (
    "# Services Agreement\n\n## 3. Use\n\n3.3 You may not: (a) use Output to develop models "
    "that compete with us; (b) use automated means to extract Output; or (c) open multiple "
    "Accounts to evade rate limits.\n"
)


@pytest.fixture
def world(tmp_path):
    """Two of the respondent's accounts (with keys and one card) and a bystander, a Terms
    version, and a case owned by counsel Olivia with investigator Ivan and counsel Carla."""
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts.ndjson",
            [
                {
                    "account_id": "acct_fox01",
                    "email": "a@fox.test",
                    "payment_fingerprint": "fp_fox",
                },
                {
                    "account_id": "acct_fox02",
                    "email": "b@fox.test",
                    "payment_fingerprint": "fp_fox",
                },
                {"account_id": "acct_by", "email": "c@else.test", "payment_fingerprint": "fp_by"},
            ],
        ),
    )
    ingest_file(
        actor="system:test",
        kind="usage",
        path=ndjson_file(
            tmp_path / "usage.ndjson",
            [
                {
                    "request_id": f"req_{n}",
                    "ts": (T0 + dt.timedelta(hours=n)).isoformat(),
                    "account_id": account,
                    "api_key_id": f"key_{account}",
                    "model": "frontier-2",
                    "input_tokens": 100,
                    "output_tokens": 200,
                }
                for n, account in enumerate(["acct_fox01", "acct_fox02", "acct_by"])
            ],
        ),
    )
    terms_version(tmp_path, TERMS, label="2025-06-01")
    owner = user_with_role("olivia", "counsel")
    investigator = user_with_role("ivan", "investigator")
    counsel = user_with_role("carla", "counsel")
    case = case_with_members(
        owner=owner,
        reference="CASE-22",
        members=[(investigator, "investigator"), (counsel, "counsel")],
        accounts=Account.objects.filter(account_id__in=["acct_fox01", "acct_fox02"]),
    )
    return {
        "case": case,
        "owner": owner,
        "investigator": investigator,
        "counsel": counsel,
        "clause": Clause.objects.get(path="3.3(b)"),
    }


def propose(world, kind="suspend", *, actor=None, **targets):
    targets.setdefault("accounts", ["acct_fox01", "acct_fox02"])
    return action_propose(
        actor=actor or world["investigator"],
        case=world["case"],
        kind=kind,
        clause=world["clause"],
        reason="Automated extraction of Output from two linked accounts.",
        effective_at=T0 + dt.timedelta(days=30),
        **targets,
    )


def action_entries(action):
    return list(
        LedgerEntry.objects.filter(object_type="enforcement_action", object_id=str(action.pk))
        .order_by("seq")
        .values_list("action", "details")
    )


# --- proposing ---------------------------------------------------------------------------


def test_a_proposal_names_its_clause_targets_and_proposer_in_the_ledger(world):
    action = propose(world)
    assert action.state == "proposed"
    [(kind, details)] = action_entries(action)
    assert kind == "created"
    assert details["case"] == "CASE-22"
    assert details["accounts"] == ["acct_fox01", "acct_fox02"]
    assert details["clause"] == "services-agreement:2025-06-01:3.3(b)"
    assert details["proposed_by"] == "ivan"


def test_an_action_never_reaches_an_account_or_key_outside_the_case(world):
    with pytest.raises(ActionError, match="acct_by") as refused:
        propose(world, accounts=["acct_fox01", "acct_by"])
    assert refused.value.field == "accounts"
    with pytest.raises(ActionError, match="key_acct_by") as refused:
        propose(world, "revoke_keys", accounts=[], key_ids=["key_acct_fox01", "key_acct_by"])
    assert refused.value.field == "key_ids"
    with pytest.raises(ActionError) as refused:
        propose(world, "block_payment", accounts=[], payment_fingerprints=["fp_by"])
    assert refused.value.field == "payment_fingerprints"
    assert not EnforcementAction.objects.exists()


@pytest.mark.parametrize(
    ("ranges", "says"),
    [
        (["203.0.113.0/33"], "address range 1"),
        (["198.51.100.0/24", "203.0.113.7/24"], "address range 2"),
        (["10.0.0.0/8"], "wider than /16"),
        (["not-an-address"], "not a CIDR range"),
    ],
)
def test_a_block_names_valid_narrow_cidr_ranges(world, ranges, says):
    with pytest.raises(ActionError, match=says) as refused:
        propose(world, "block_range", accounts=[], address_ranges=ranges)
    assert refused.value.field == "address_ranges"


def test_each_kind_needs_its_own_target(world):
    with pytest.raises(ActionError, match="payment_fingerprints"):
        propose(world, "block_payment")
    action = propose(world, "block_range", accounts=[], address_ranges=["2001:db8:1::/48"])
    assert action.address_ranges == ["2001:db8:1::/48"]


def test_a_viewer_cannot_propose(world):
    viewer = user_with_role("vera", "viewer")
    case_member_add(actor=world["owner"], case=world["case"], user=viewer, role="viewer")
    with pytest.raises(PermissionDenied):
        propose(world, actor=viewer)


# --- approval and the state machine --------------------------------------------------------


def test_termination_needs_a_second_approver_holding_counsel(world):
    action = propose(world, "terminate", actor=world["owner"])
    with pytest.raises(ActionError, match="a second person") as refused:
        action_approve(actor=world["owner"], action=action)
    assert refused.value.field == "approver"
    with pytest.raises(PermissionDenied):
        action_approve(actor=world["investigator"], action=action)  # no MANAGE on the case
    with pytest.raises(PermissionDenied):
        action_approve(actor="system:cli", action=action)
    action.refresh_from_db()
    assert action.state == "proposed"
    approved = action_approve(actor=world["counsel"], action=action)
    assert (approved.state, approved.approved_by) == ("approved", world["counsel"])


def test_an_owner_who_is_not_a_lawyer_does_not_approve_a_block(world):
    boss = user_with_role("otto", "investigator")
    case = case_with_members(
        owner=boss,
        reference="CASE-23",
        accounts=Account.objects.filter(account_id="acct_fox01"),
    )
    action = action_propose(
        actor=boss,
        case=case,
        kind="block_payment",
        clause=world["clause"],
        reason="Card shared by the operator's accounts.",
        effective_at=T0,
        payment_fingerprints=["fp_fox"],
    )
    other = user_with_role("oscar", "investigator")
    case_member_add(actor=boss, case=case, user=other, role="owner")
    with pytest.raises(ActionError, match="approved by counsel"):
        action_approve(actor=other, action=action)


def test_a_suspension_may_be_approved_by_its_proposer(world):
    action = propose(world, actor=world["owner"])
    assert action_approve(actor=world["owner"], action=action).state == "approved"


def test_steps_are_taken_only_from_their_state(world):
    action = propose(world)
    with pytest.raises(ActionError, match="only when approved"):
        action_send(actor=world["owner"], action=action, channel="csv")
    with pytest.raises(ActionError, match="only when sent"):
        action_confirm(actor=world["owner"], action=action)
    with pytest.raises(ActionError, match="proposed"):
        action_reverse(actor=world["owner"], action=action, reason="changed our mind")
    action_approve(actor=world["owner"], action=action)
    with pytest.raises(ActionError, match="is approved"):
        action_approve(actor=world["counsel"], action=action)
    action_send(actor=world["owner"], action=action, channel="csv")
    action_confirm(actor=world["owner"], action=action, platform_reference="PLAT-9")
    with pytest.raises(ActionError, match="why the action is reversed") as refused:
        action_reverse(actor=world["owner"], action=action, reason="  ")
    assert refused.value.field == "reason"
    reversed_ = action_reverse(actor=world["owner"], action=action, reason="Breach cured.")
    assert reversed_.state == "reversed"
    with pytest.raises(ActionError, match="is reversed"):
        action_reverse(actor=world["owner"], action=action, reason="again")
    assert [(kind, d.get("from"), d["state"]) for kind, d in action_entries(action)] == [
        ("created", None, "proposed"),
        ("changed", "proposed", "approved"),
        ("changed", "approved", "sent"),
        ("changed", "sent", "confirmed"),
        ("changed", "confirmed", "reversed"),
    ]
    assert action_entries(action)[-1][1]["reason"] == "Breach cured."


# --- the webhook ---------------------------------------------------------------------------


class Platform:
    """A provider platform on a local port: answers each request with the next status of
    `answers` (the last one repeated) and remembers what it was sent."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.received: list[dict] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                platform.received.append({"headers": dict(self.headers), "body": body})
                status = (
                    platform.answers.pop(0) if len(platform.answers) > 1 else platform.answers[0]
                )
                answer = json.dumps({"reference": f"PLAT-{len(platform.received)}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/enforcement"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(settings):
    settings.PACTA_ENFORCEMENT_WEBHOOK_SECRET = SECRET

    def at(platform: Platform) -> Platform:
        settings.PACTA_ENFORCEMENT_WEBHOOK_URL = platform.url
        return platform

    return at


def sent_by_webhook(world, django_capture_on_commit_callbacks):
    action = propose(world, actor=world["owner"])
    action_approve(actor=world["owner"], action=action)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        action_send(actor=world["owner"], action=action)
    assert len(queued) == 1  # the hand-off task, sent once the step has committed
    return action, ActionHandoff.objects.get(action=action, transition="send")


def test_the_platform_confirms_a_signed_action_and_the_confirmation_is_recorded(
    world, webhook, django_capture_on_commit_callbacks
):
    action, handoff = sent_by_webhook(world, django_capture_on_commit_callbacks)
    with webhook(Platform([200])) as platform:
        action_handoff_task.apply(args=[handoff.pk])
    [request] = platform.received
    body = request["body"]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert request["headers"][SIGNATURE_HEADER] == expected
    assert request["headers"]["Idempotency-Key"] == handoff.idempotency_key
    sent = json.loads(body)
    assert sent["kind"] == "suspend"
    assert sent["targets"]["accounts"] == ["acct_fox01", "acct_fox02"]
    assert sent["clause"]["path"] == "3.3(b)"
    action.refresh_from_db()
    assert (action.state, action.platform_reference) == ("confirmed", "PLAT-1")
    last = action_entries(action)[-1]
    assert last[1]["state"] == "confirmed" and last[1]["platform_reference"] == "PLAT-1"
    assert LedgerEntry.objects.filter(
        object_type="enforcement_action", actor="system:enforcement"
    ).exists()


def test_a_signature_under_another_secret_does_not_match(world):
    body = b'{"kind":"suspend"}'
    assert webhook_signature(body=body, secret=SECRET) != webhook_signature(
        body=body, secret="other"
    )


def test_a_platform_that_is_down_is_retried_with_the_same_key_and_body(
    world, webhook, django_capture_on_commit_callbacks
):
    action, handoff = sent_by_webhook(world, django_capture_on_commit_callbacks)
    with webhook(Platform([503, 502, 200])) as platform:
        action_handoff_task.apply(args=[handoff.pk])
    assert len(platform.received) == 3
    assert {r["headers"]["Idempotency-Key"] for r in platform.received} == {handoff.idempotency_key}
    assert len({r["body"] for r in platform.received}) == 1
    handoff.refresh_from_db()
    assert (handoff.status, handoff.attempts) == ("confirmed", 3)
    action.refresh_from_db()
    assert action.state == "confirmed"
    # Run again (a redelivered task): the platform is not told twice.
    action_handoff_task.apply(args=[handoff.pk])
    assert len(platform.received) == 3


def test_an_unreachable_platform_is_given_up_on_and_that_is_recorded(
    world, webhook, django_capture_on_commit_callbacks, settings
):
    action, handoff = sent_by_webhook(world, django_capture_on_commit_callbacks)
    with webhook(Platform([500])) as platform:
        result = action_handoff_task.apply(args=[handoff.pk])
    assert result.failed()
    max_retries = action_handoff_task.max_retries
    assert len(platform.received) == max_retries + 1
    handoff.refresh_from_db()
    assert handoff.status == "failed" and "gave up" in handoff.last_error
    action.refresh_from_db()
    assert action.state == "sent"  # the platform never confirmed it
    assert action_entries(action)[-1][1]["status"] == "failed"


def test_a_refusal_is_not_retried(world, webhook, django_capture_on_commit_callbacks):
    _, handoff = sent_by_webhook(world, django_capture_on_commit_callbacks)
    with webhook(Platform([422])) as platform:
        action_handoff_task.apply(args=[handoff.pk])
    assert len(platform.received) == 1
    handoff.refresh_from_db()
    assert handoff.status == "failed" and "422" in handoff.last_error


def test_reversing_a_confirmed_action_tells_the_platform_under_its_own_key(
    world, webhook, django_capture_on_commit_callbacks
):
    action, handoff = sent_by_webhook(world, django_capture_on_commit_callbacks)
    with webhook(Platform([200])) as platform:
        action_handoff_task.apply(args=[handoff.pk])
        with django_capture_on_commit_callbacks(execute=False):
            action_reverse(actor=world["owner"], action=action, reason="Identity verified.")
        undo = ActionHandoff.objects.get(action=action, transition="reverse")
        action_handoff_task.apply(args=[undo.pk])
    assert undo.idempotency_key != handoff.idempotency_key
    second = json.loads(platform.received[1]["body"])
    assert (second["transition"], second["reversal_reason"]) == ("reverse", "Identity verified.")
    undo.refresh_from_db()
    assert undo.status == "confirmed"
    assert action_entries(action)[-1][1]["status"] == "confirmed"


# --- CSV export ----------------------------------------------------------------------------


def test_export_actions_writes_the_cases_approved_actions_and_marks_them_sent(world, tmp_path):
    kept = propose(world, actor=world["owner"])
    action_approve(actor=world["owner"], action=kept)
    pending = propose(world, "warn")
    out = tmp_path / "out" / "actions.csv"
    call_command("export_actions", "CASE-22", "--out", str(out), "--send")
    rows = list(csv.DictReader(out.open()))
    assert [r["action_id"] for r in rows] == [str(kept.pk)]
    assert rows[0]["state"] == "sent"
    assert rows[0]["accounts"] == "acct_fox01 acct_fox02"
    assert rows[0]["clause"] == "services-agreement:2025-06-01:3.3(b)"
    kept.refresh_from_db()
    pending.refresh_from_db()
    assert (kept.state, kept.sent_via, pending.state) == ("sent", "csv", "proposed")
    entry = LedgerEntry.objects.get(object_type="case", action="exported")
    assert entry.object_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert entry.details["enforcement_actions"] == [kept.pk]


def test_export_actions_names_an_unknown_case(tmp_path):
    with pytest.raises(CommandError, match="CASE_REF NOPE"):
        call_command("export_actions", "NOPE", "--out", str(tmp_path / "a.csv"))


def test_a_cases_actions_are_read_by_its_members_only(world):

    action = propose(world)
    assert list(case_enforcement_actions(user=world["investigator"], case=world["case"])) == [
        action
    ]
    with pytest.raises(Http404):
        case_enforcement_actions(user=user_with_role("mallory", "counsel"), case=world["case"])
