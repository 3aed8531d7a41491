"""Chain of custody: tampering behind the app's back is caught and named; holds hold."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from casework.models import Case, ReportJob
from casework.services import (
    allegation_add,
    case_hold_place,
    case_hold_release,
    note_add,
)
from evidence.custody.canonical import file_sha256
from evidence.custody.ledger import ledger_append
from evidence.custody.preservation import (
    HeldMaterialError,
    custody_history,
    evidence_item_delete,
    retention_purge,
)
from evidence.custody.verification import evidence_verify
from evidence.ingest.service import ingest_file
from evidence.models import (
    Account,
    Clause,
    EvidenceItem,
    LedgerEntry,
    PurgedUsageRow,
    UsageEvent,
)
from evidence.services import evidence_item_keep, evidence_item_store
from tests.factories import case_with_members, ndjson_file, terms_version, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def _event(n: int, account: str, day: int) -> dict:
    return {
        "request_id": f"req_{n:05d}",
        "ts": (T0 + dt.timedelta(days=day, minutes=n)).isoformat(),
        "account_id": account,
        "model": "frontier-2",
        "input_tokens": 10 + n,
        "output_tokens": 100 + n,
        "source_ip": "203.0.113.9",
        "prompt": f"Think step by step about item {n}",
        "params": {"logprobs": True, "top_logprobs": 20},
    }


@pytest.fixture
def record(tmp_path):
    """A small record: accounts, usage over 30 days, Terms, a rejects file, a report PDF."""
    accounts = [
        {"account_id": a, "org_name": a.upper(), "plan": "tier-1"}
        for a in ("acct_a", "acct_b", "acct_c")
    ]
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(tmp_path / "accounts.ndjson", accounts),
    )
    usage = tmp_path / "usage.ndjson"
    lines = [
        json.dumps(_event(n, ("acct_a", "acct_b", "acct_c")[n % 3], n % 30)) for n in range(90)
    ]
    usage.write_text("\n".join([*lines, "not json"]) + "\n")  # one bad line: a rejects file
    ingest_file(actor="system:test", kind="usage", path=usage)
    terms_version(
        tmp_path,
        "## 3. Use\n\n3.3 You will not: (a) use Output to develop models that compete with us; "
        "(b) share API keys.\n",
        label="1",
        effective=dt.date(2026, 1, 1),
        document="sa",
        title="SA",
        file_name="terms.md",
    )
    pdf = evidence_item_store(
        actor="system:test",
        stream=io.BytesIO(b"%PDF-1.7 report"),
        file_name="report.pdf",
        kind="report_pdf",
        source="report build",
    )
    return {"pdf": pdf}


def _verify() -> dict:
    run = evidence_verify(actor="system:test")
    return {"ok": run.ok, "failures": run.failures, "run": run}


def _named(result: dict) -> set[tuple[str, str]]:
    return {(f["object"], str(f["id"])) for f in result["failures"]}


def test_a_clean_record_verifies_clean_and_the_result_is_ledgered(record):
    result = _verify()
    assert result["ok"], result["failures"]
    run = result["run"]
    assert run.checked["usage_rows"] == 90
    # The two ingested files kept as received (natives), the rejects file and the report.
    assert run.checked["evidence_files"] == 4
    assert run.checked["clauses"] >= 3
    entry = LedgerEntry.objects.get(object_type="verification_run", object_id=str(run.pk))
    assert entry.action == "verified"
    assert entry.details["ok"] is True


def test_changed_usage_row_is_named(record):
    with connection.cursor() as cursor:
        # What an insider with DDL rights could do: drop the guard (migration 0100) first.
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute(
            "UPDATE evidence_usageevent SET output_tokens = 1 WHERE request_id = 'req_00007'"
        )
    result = _verify()
    assert not result["ok"]
    assert ("usage_event", "req_00007") in _named(result)
    failure = next(f for f in result["failures"] if f["id"] == "req_00007")
    assert failure["expected"] != failure["found"]


def test_deleted_usage_row_is_named_through_its_batch(record):
    batch_id = UsageEvent.objects.get(request_id="req_00008").batch_id
    with connection.cursor() as cursor:
        # What an insider with DDL rights could do: drop the guard (migration 0100) first.
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute("DELETE FROM evidence_usageevent WHERE request_id = 'req_00008'")
    result = _verify()
    assert ("ingest_batch", str(batch_id)) in _named(result)


def test_changed_evidence_file_byte_is_named(record):
    item = EvidenceItem.objects.get(kind="ingest_rejects")
    path = Path(item.file.path)
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))
    result = _verify()
    assert ("evidence_item", str(item.pk)) in _named(result)


def test_changed_report_file_is_named(record):
    pdf = record["pdf"]
    with open(pdf.file.path, "ab") as fh:
        fh.write(b"%% appended")
    result = _verify()
    assert ("evidence_item", str(pdf.pk)) in _named(result)


def test_changed_clause_text_is_named(record):
    clause = Clause.objects.get(path="3.3(a)")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE evidence_clause SET text = 'use Output for anything' WHERE id = %s",
            [clause.pk],
        )
    result = _verify()
    assert ("clause", str(clause.pk)) in _named(result)


def test_ledger_entry_changed_with_its_trigger_dropped_is_named(record):
    entry = LedgerEntry.objects.order_by("seq")[2]
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_refuse_update_delete ON evidence_ledgerentry")
        cursor.execute(
            "UPDATE evidence_ledgerentry SET actor = 'mallory' WHERE seq = %s", [entry.seq]
        )
    result = _verify()
    assert ("ledger_entry", str(entry.seq)) in _named(result)


def test_verify_command_exit_status_and_json(record, capsys):
    call_command("verify_evidence", "--json")
    assert json.loads(capsys.readouterr().out)["ok"] is True
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute("UPDATE evidence_usageevent SET model = 'x' WHERE request_id = 'req_00001'")
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_evidence", "--json")
    assert exit_info.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failures"][0]["object"] == "usage_event"
    assert {"object", "id", "expected", "found"} <= set(out["failures"][0])


def test_a_failed_verification_raises_a_visible_alert(record, client, counsel_user):
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute("UPDATE evidence_usageevent SET model = 'x' WHERE request_id = 'req_00002'")
    _verify()
    client.force_login(counsel_user)
    page = client.get("/").content.decode()
    assert 'role="alert"' in page
    assert "req_00002" in page


def test_verification_records_are_append_only(record):
    run = _verify()["run"]
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE evidence_verificationrun SET ok = false WHERE id = %s", [run.pk])


# --- legal hold and retention -------------------------------------------------------------


@pytest.fixture
def held_case(record, counsel_user):
    case = case_with_members(
        owner=counsel_user,
        reference="CASE-1",
        title="Distillation",
        respondent="Blue Finch",
        window_start=T0 + dt.timedelta(days=10),
        window_end=T0 + dt.timedelta(days=20),
        accounts=Account.objects.filter(account_id="acct_a"),
    )
    ReportJob.objects.create(
        case=case,
        edition="counsel",
        snapshot_sha256="0" * 64,
        status="done",
        requested_by=counsel_user,
        pdf=record["pdf"],
        percent=100,
    )
    return case_hold_place(actor=counsel_user, case=case)


def test_held_material_survives_retention_and_verification_stays_green(held_case, settings):
    settings.PACTA_USAGE_RETENTION_DAYS = 1
    held_before = set(
        UsageEvent.objects.filter(
            account_id="acct_a",
            ts__gte=held_case.window_start,
            ts__lte=held_case.window_end,
        ).values_list("request_id", flat=True)
    )
    assert held_before
    purge = retention_purge(actor="system:test", now=T0 + dt.timedelta(days=400), batch_size=7)
    remaining = set(UsageEvent.objects.values_list("request_id", flat=True))
    assert remaining == held_before  # everything else was past retention
    assert purge.removed == 90 - len(held_before)
    assert purge.held_kept == len(held_before)
    assert PurgedUsageRow.objects.count() == purge.removed
    entry = LedgerEntry.objects.get(object_type="retention_purge", object_id=str(purge.pk))
    assert entry.details["removed"] == purge.removed
    assert entry.object_sha256 == purge.removed_digest
    result = _verify()
    assert result["ok"], result["failures"]


def test_retention_is_off_unless_configured(record, settings):
    settings.PACTA_USAGE_RETENTION_DAYS = 0
    assert retention_purge(actor="system:test") is None
    assert UsageEvent.objects.count() == 90


def test_held_material_refuses_deletion_by_app_and_database(held_case, record):
    with pytest.raises(HeldMaterialError, match="CASE-1"):
        evidence_item_delete(actor="system:test", item=record["pdf"])
    held = UsageEvent.objects.filter(account_id="acct_a", ts__gte=held_case.window_start).first()
    for statement, params in (
        ("DELETE FROM evidence_usageevent WHERE id = %s", [held.pk]),
        ("DELETE FROM evidence_evidenceitem WHERE id = %s", [record["pdf"].pk]),
    ):
        with (
            pytest.raises(DatabaseError, match="legal hold"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, params)
    assert EvidenceItem.objects.filter(pk=record["pdf"].pk).exists()


def test_admin_refuses_to_delete_a_held_case(held_case, admin_client):
    response = admin_client.post(f"/admin/casework/case/{held_case.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Case.objects.filter(pk=held_case.pk).exists()


def test_released_hold_lets_retention_proceed(held_case, counsel_user, settings):
    case_hold_release(actor=counsel_user, case=held_case)
    settings.PACTA_USAGE_RETENTION_DAYS = 1
    retention_purge(actor="system:test", now=T0 + dt.timedelta(days=400))
    assert UsageEvent.objects.count() == 0
    assert _verify()["ok"]


# --- custody history and access audit -----------------------------------------------------


def test_custody_history_of_an_account(held_case):
    actions = [e["action"] for e in custody_history(object_type="account", object_id="acct_a")]
    assert actions[:2] == ["ingested", "ingested"]  # the accounts file, then the usage file
    assert "linked" in actions
    assert "held" in actions


def test_custody_history_of_a_file_includes_holds_and_verifications(held_case, record):
    _verify()
    history = custody_history(object_type="evidence_item", object_id=record["pdf"].pk)
    assert [e["action"] for e in history] == ["collected", "held", "verified"]


def test_case_audit_lists_views_and_downloads_for_its_owner(
    held_case, record, client, counsel_user
):
    client.force_login(counsel_user)
    assert client.get("/cases/CASE-1/").status_code == 200
    download = client.get(f"/cases/CASE-1/files/{record['pdf'].pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.7 report"
    audit = client.get("/cases/CASE-1/audit/").content.decode()
    assert "Viewed" in audit
    assert "Exported" in audit
    assert "report.pdf" in audit
    viewed = LedgerEntry.objects.filter(object_type="case", action="viewed").get()
    assert viewed.actor == counsel_user.username

    outsider = user_with_role("mallory")
    client.force_login(outsider)
    assert client.get("/cases/CASE-1/").status_code == 404
    assert client.get(f"/cases/CASE-1/files/{record['pdf'].pk}/download/").status_code == 404
    assert client.get("/cases/CASE-1/audit/").status_code == 404


def test_custody_and_audit_name_an_allegation_and_a_note(held_case, client, counsel_user):
    """An allegation and a note are acts of their own on the case, not "case created"."""
    clause = Clause.objects.get(path="3.3(a)")
    allegation_add(actor=counsel_user, case=held_case, clause=clause, theory="Outputs distilled.")
    note_add(actor=counsel_user, case=held_case, text="Card shared with acct_b?")
    history = custody_history(object_type="case", object_id="CASE-1")
    assert [e["action"] for e in history] == ["created", "held", "alleged", "noted"]
    client.force_login(counsel_user)
    audit = client.get("/cases/CASE-1/audit/").content.decode()
    assert "Allegation added" in audit
    assert "Note added" in audit
    assert audit.count("<td>Created</td>") == 1  # the case itself, nothing else


def test_allegations_and_notes_ledgered_as_created_still_read_as_such(held_case, client):
    """Entries are never edited: those written before allegations and notes had actions of
    their own say "created" on the case, and their details tell what was created."""
    for details in ({"allegation": 41, "clause": "sa:1:3.3(a)"}, {"note": 42}):
        ledger_append(
            actor=held_case.opened_by,
            action="created",
            object_type="case",
            object_id="CASE-1",
            details=details,
        )
    history = custody_history(object_type="case", object_id="CASE-1")
    assert [e["action"] for e in history] == ["created", "held", "alleged", "noted"]
    client.force_login(held_case.opened_by)
    audit = client.get("/cases/CASE-1/audit/").content.decode()
    assert "Allegation added" in audit
    assert "Note added" in audit


def test_case_audit_is_for_the_owner_only(held_case, client):
    from casework.services import case_member_add

    viewer = user_with_role("vic")
    case_member_add(actor=held_case.opened_by, case=held_case, user=viewer, role="viewer")
    client.force_login(viewer)
    assert client.get("/cases/CASE-1/").status_code == 200
    assert client.get("/cases/CASE-1/audit/").status_code == 404


def test_custody_command(held_case, capsys):
    call_command("custody", "case", "CASE-1", "--json")
    actions = [e["action"] for e in json.loads(capsys.readouterr().out)]
    assert actions == ["created", "held"]


def test_a_file_the_system_made_is_kept_as_hashed_and_moved_not_copied(tmp_path):
    made = tmp_path / "usage.csv"
    made.write_bytes(b"request_id,ts\nreq_1,2026-01-05T00:00:00.000000Z\n")
    expected = hashlib.sha256(made.read_bytes()).hexdigest()
    item = evidence_item_keep(
        actor="system:test", path=made, file_name="usage.csv", kind="exhibit", source="report"
    )
    assert not made.exists()
    with item.file.open("rb") as stored:
        assert item.sha256 == expected == file_sha256(stored)[0]
    assert item.size == len(b"request_id,ts\nreq_1,2026-01-05T00:00:00.000000Z\n")
    assert LedgerEntry.objects.filter(
        object_type="evidence_item", object_id=str(item.pk), action="collected",
        object_sha256=expected,
    ).exists()  # fmt: skip
