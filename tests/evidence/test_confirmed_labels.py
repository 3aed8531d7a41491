"""Investigator-confirmed labels: what a provider decided about an account, and why.

Detection states its error rates on these, so each test here is a fact that measurement
rests on: a label, once given, stays as given (the database refuses any change); the
latest label is the verdict in force; every label is on the ledger under its account;
bad input is refused naming the input; only the roles that add to the record may label.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from evidence.custody.events import confirmed_label_sha256
from evidence.custody.preservation import custody_history
from evidence.ingest.service import ingest_file
from evidence.labels import LabelError, account_label, labels_current
from evidence.models import ConfirmedLabel, LedgerEntry
from tests.factories import ndjson_file, token_client, user_with_role

pytestmark = pytest.mark.django_db

CLI = "system:cli"


@pytest.fixture
def accounts(tmp_path):
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts.ndjson",
            [{"account_id": a, "org_name": a.upper()} for a in ("acct_a", "acct_b", "acct/c")],
        ),
    )


@pytest.fixture
def label(accounts) -> ConfirmedLabel:
    return account_label(
        actor=CLI,
        account_id="acct_a",
        verdict="confirmed_abusive",
        reason="Subpoena return: the card holder runs the proxy service.",
    )


# --- the record ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE evidence_confirmedlabel SET verdict = 'confirmed_benign'",
        "UPDATE evidence_confirmedlabel SET reason = 'no reason'",
        "DELETE FROM evidence_confirmedlabel",
    ],
)
def test_the_database_refuses_to_change_or_remove_a_label(label, statement):
    with (
        pytest.raises(DatabaseError, match="investigator-confirmed labels, which are evidence"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    label.refresh_from_db()
    assert label.verdict == "confirmed_abusive"


def test_the_database_refuses_truncate_outside_throwaway_databases(label):
    with (
        pytest.raises(DatabaseError, match="TRUNCATE is refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no foreign-key check pending
        cursor.execute("SET LOCAL pacta.allow_truncate = 'off'")
        cursor.execute("TRUNCATE evidence_confirmedlabel")


def test_the_database_refuses_a_label_without_a_reason_or_with_an_unknown_verdict(label):
    for verdict, reason in (("confirmed_abusive", "   "), ("suspicious", "a reason")):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO evidence_confirmedlabel "
                "(account_id, verdict, reason, actor, created_at) "
                "VALUES (%s, %s, %s, 'someone', now())",
                [label.account_id, verdict, reason],
            )


def test_the_latest_label_is_the_verdict_in_force_and_earlier_ones_stay(label):
    account_label(
        actor=CLI,
        account_id="acct_a",
        verdict="confirmed_benign",
        reason="Second look: the proxy service was a customer's, not theirs.",
    )
    account_label(
        actor=CLI, account_id="acct_b", verdict="confirmed_benign", reason="Called the CTO."
    )
    current = {row.account.account_id: row.verdict for row in labels_current()}
    assert current == {"acct_a": "confirmed_benign", "acct_b": "confirmed_benign"}
    history = ConfirmedLabel.objects.filter(account__account_id="acct_a").order_by("pk")
    assert [row.verdict for row in history] == ["confirmed_abusive", "confirmed_benign"]


def test_each_label_is_ledgered_under_its_account_with_the_verdict_it_replaced(label):
    second = account_label(
        actor=CLI, account_id="acct_a", verdict="confirmed_benign", reason="Second look."
    )
    entries = LedgerEntry.objects.filter(
        object_type="account", object_id="acct_a", details__field="confirmed_label"
    ).order_by("seq")
    assert [(e.details["from"], e.details["to"]) for e in entries] == [
        (None, "confirmed_abusive"),
        ("confirmed_abusive", "confirmed_benign"),
    ]
    last = entries.last()
    assert (last.actor, last.details["label"], last.details["reason"]) == (
        CLI,
        second.pk,
        "Second look.",
    )
    assert last.object_sha256 == confirmed_label_sha256(second)
    history = custody_history(object_type="account", object_id="acct_a")
    assert [e["details"].get("to") for e in history if e["action"] == "changed"] == [
        "confirmed_abusive",
        "confirmed_benign",
    ]


@pytest.mark.parametrize(
    ("account_id", "verdict", "reason", "field"),
    [
        ("acct_zz", "confirmed_benign", "Called them.", "account_id"),
        ("acct_a", "benign", "Called them.", "verdict"),
        ("acct_a", "confirmed_benign", "  \n ", "reason"),
    ],
)
def test_bad_input_is_refused_naming_the_input_and_nothing_is_recorded(
    accounts, account_id, verdict, reason, field
):
    entries = LedgerEntry.objects.count()
    with pytest.raises(LabelError) as error:
        account_label(actor=CLI, account_id=account_id, verdict=verdict, reason=reason)
    assert error.value.field == field
    assert not ConfirmedLabel.objects.exists()
    assert LedgerEntry.objects.count() == entries


@pytest.mark.parametrize("role", ["viewer", "external reviewer", None])
def test_only_roles_that_add_to_the_record_may_label(accounts, role):
    with pytest.raises(PermissionDenied):
        account_label(
            actor=user_with_role("someone", role),
            account_id="acct_a",
            verdict="confirmed_benign",
            reason="I think so.",
        )
    investigator = user_with_role("ivy", "investigator")
    label = account_label(
        actor=investigator, account_id="acct_a", verdict="confirmed_benign", reason="Checked."
    )
    assert (label.actor, label.actor_user_id) == ("ivy", investigator.pk)


# --- the command ---------------------------------------------------------------------------


def test_label_account_records_the_verdict_and_prints_it(accounts, capsys):
    call_command(
        "label_account", "acct/c", "--verdict", "confirmed_abusive", "--reason", "Admitted it."
    )
    assert "Account acct/c labelled Confirmed abusive" in capsys.readouterr().out
    call_command(
        "label_account", "acct/c", "--verdict", "confirmed_benign", "--reason", "Retracted.",
        "--json",
    )  # fmt: skip
    document = json.loads(capsys.readouterr().out)
    assert (document["account_id"], document["verdict"], document["actor"]) == (
        "acct/c",
        "confirmed_benign",
        CLI,
    )
    assert labels_current().get(account__account_id="acct/c").pk == document["label"]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["acct_zz", "--verdict", "confirmed_benign", "--reason", "x"], "ACCOUNT_ID:"),
        (["acct_a", "--verdict", "benign", "--reason", "x"], "--verdict:"),
        (["acct_a", "--verdict", "confirmed_benign", "--reason", " "], "--reason:"),
    ],
)
def test_label_account_usage_errors_exit_2_naming_the_argument(accounts, arguments, named):
    with pytest.raises(CommandError) as error:
        call_command("label_account", *arguments)
    assert error.value.returncode == 2
    assert str(error.value).startswith(named)
    assert not ConfirmedLabel.objects.exists()


# --- the API -------------------------------------------------------------------------------

BODY = {"account_id": "acct_b", "verdict": "confirmed_benign", "reason": "Called the CTO."}


def test_an_investigator_labels_over_the_api_and_reads_the_labels_back(accounts):
    investigator = user_with_role("ivy", "investigator")
    response = token_client(investigator, "write").post("/api/v1/labels/", BODY, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["actor"] == "ivy"
    account_label(actor=CLI, account_id="acct_b", verdict="confirmed_abusive", reason="Later.")
    reader = token_client(user_with_role("vera", "viewer"), "read")
    every = reader.get("/api/v1/labels/?account=acct_b").json()["results"]
    assert [row["verdict"] for row in every] == ["confirmed_benign", "confirmed_abusive"]
    current = reader.get("/api/v1/labels/?current=true").json()["results"]
    assert [(row["account_id"], row["verdict"]) for row in current] == [
        ("acct_b", "confirmed_abusive")
    ]


def test_the_api_refuses_who_may_not_label(accounts):
    assert APIClient().post("/api/v1/labels/", BODY, format="json").status_code == 401
    viewer = token_client(user_with_role("vera", "viewer"), "write")
    assert viewer.post("/api/v1/labels/", BODY, format="json").status_code == 403
    read_only = token_client(user_with_role("ivy", "investigator"), "read")
    assert read_only.post("/api/v1/labels/", BODY, format="json").status_code == 403
    assert not ConfirmedLabel.objects.exists()
    account_label(actor=CLI, **BODY)
    outsider = token_client(user_with_role("rex", "external reviewer"), "read")
    assert outsider.get("/api/v1/labels/").json()["results"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"account_id": "acct_zz"}, "account_id"),
        ({"verdict": "benign"}, "verdict"),
        ({"reason": "  "}, "reason"),
        ({"reason": 5}, "reason"),
    ],
)
def test_the_api_names_the_field_at_fault(accounts, change, field):
    client = token_client(user_with_role("ivy", "investigator"), "write")
    response = client.post("/api/v1/labels/", {**BODY, **change}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == [field]
    assert not ConfirmedLabel.objects.exists()
