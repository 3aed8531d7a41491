"""The ledger is the chain of custody: append-only in the database, one chain, verifiable."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import threading
from types import SimpleNamespace

import pytest
from django.db import DatabaseError, connection, connections, transaction

from evidence.custody import events
from evidence.custody.canonical import (
    GENESIS_HASH,
    content_sha256,
    file_sha256,
    ledger_entry_hash,
    rows_digest,
)
from evidence.custody.ledger import (
    ledger_append,
    ledger_for_object,
    ledger_head,
    ledger_verify,
)
from evidence.ingest.service import ingest_file
from evidence.models import LedgerEntry
from evidence.services import ledger_check

pytestmark = pytest.mark.django_db


def _append(n: int, actor="system:test") -> list[LedgerEntry]:
    return [
        ledger_append(
            actor=actor,
            action="collected",
            object_type="evidence_item",
            object_id=i,
            object_sha256=f"{i:064x}",
            details={"n": i, "note": "ünïcode ok"},
        )
        for i in range(n)
    ]


def test_entries_chain_each_to_the_one_before():
    entries = _append(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].entry_hash
    assert entries[2].prev_hash == entries[1].entry_hash
    assert ledger_head() == (3, entries[2].entry_hash)
    result = ledger_verify()
    assert result.ok
    assert result.entries_checked == 3
    assert result.head_hash == entries[2].entry_hash


def test_actor_is_recorded_by_username(counsel_user):
    entry = ledger_append(actor=counsel_user, action="viewed", object_type="case", object_id=7)
    assert entry.actor == "alice"
    assert entry.actor_user_id == counsel_user.pk
    assert list(ledger_for_object(object_type="case", object_id=7)) == [entry]


def test_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown ledger action"):
        ledger_append(actor=None, action="edited", object_type="x", object_id=1)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE evidence_ledgerentry SET actor = 'mallory'",
        "DELETE FROM evidence_ledgerentry",
        "UPDATE evidence_ledgerentry SET details = '{}'::jsonb WHERE seq = 1",
    ],
)
def test_database_refuses_update_and_delete(statement):
    _append(2)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert LedgerEntry.objects.count() == 2
    assert ledger_verify().ok


def test_database_refuses_truncate_outside_test_databases():
    _append(1)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL pacta.allow_truncate = 'off'")
        cursor.execute("TRUNCATE evidence_ledgerentry")
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    "table",
    [
        "evidence_ledgerentry",
        "evidence_purgedusagerow",
        "evidence_verificationrun",
        "evidence_trustedtimestamp",
    ],
)
def test_a_session_cannot_allow_truncate_of_the_ledger_for_itself(table):
    """Only the database's own setting (ALTER DATABASE, DDL rights) lets TRUNCATE through;
    a client setting `pacta.allow_truncate` for its session is refused."""
    _append(1)
    name = connection.settings_dict["NAME"]
    with (
        pytest.raises(DatabaseError, match=r"append-only: TRUNCATE is refused|TRUNCATE on"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f'ALTER DATABASE "{name}" RESET pacta.allow_truncate')
        cursor.execute("SET LOCAL pacta.allow_truncate = 'on'")
        cursor.execute(f"TRUNCATE {table}")
    assert LedgerEntry.objects.count() == 1


def test_entry_changed_behind_the_apps_back_is_named():
    entries = _append(5)
    with connection.cursor() as cursor:
        # What an insider with DDL rights could do: drop the guard, then rewrite history.
        cursor.execute("DROP TRIGGER ledger_refuse_update_delete ON evidence_ledgerentry")
        cursor.execute(
            "UPDATE evidence_ledgerentry SET details = '{\"n\": 99}'::jsonb WHERE seq = 3"
        )
    result = ledger_verify()
    assert not result.ok
    assert result.failure["seq"] == 3
    assert result.failure["id"] == entries[2].pk
    assert result.failure["expected"] == entries[2].entry_hash
    assert result.entries_checked == 5
    assert (result.head_seq, result.head_hash) == (5, entries[4].entry_hash)


def test_every_broken_entry_is_named_not_only_the_first():
    """A second forgery further on is named too, and the head is still reported."""
    entries = _append(8)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_refuse_update_delete ON evidence_ledgerentry")
        cursor.execute("UPDATE evidence_ledgerentry SET actor = 'mallory' WHERE seq = 2")
        cursor.execute("DELETE FROM evidence_ledgerentry WHERE seq = 5")
        cursor.execute(
            "UPDATE evidence_ledgerentry SET details = '{\"n\": 0}'::jsonb WHERE seq = 7"
        )
    result = ledger_verify()
    assert not result.ok
    assert [(f["seq"], f["reason"].split(":")[0]) for f in result.failures] == [
        (2, "entry content does not match its recorded hash"),
        (6, "sequence gap"),
        (7, "entry content does not match its recorded hash"),
    ]
    assert result.failures_total == 3
    assert result.entries_checked == 7
    assert (result.head_seq, result.head_hash) == (8, entries[7].entry_hash)
    assert result.as_dict()["failures_total"] == 3


def test_the_list_of_broken_entries_is_capped_and_counted():
    _append(6)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_refuse_update_delete ON evidence_ledgerentry")
        cursor.execute("UPDATE evidence_ledgerentry SET actor = 'mallory'")
    result = ledger_verify(failures_shown=4)
    assert [f["seq"] for f in result.failures] == [1, 2, 3, 4]
    assert result.failures_total == 6


def test_verify_evidence_names_every_broken_entry(media_root):
    from evidence.custody.verification import evidence_verify

    for n in range(5):  # acts on a case: nothing else in the record to check
        ledger_append(actor="system:test", action="viewed", object_type="case", object_id=n)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_refuse_update_delete ON evidence_ledgerentry")
        cursor.execute("UPDATE evidence_ledgerentry SET actor = 'mallory' WHERE seq IN (2, 4)")
    run = evidence_verify(actor="system:test")
    assert [(f["object"], f["id"]) for f in run.failures] == [
        ("ledger_entry", 2),
        ("ledger_entry", 4),
    ]
    assert run.failures_total == 2
    assert run.ledger_head_seq == 5


def test_entry_rehashed_by_a_forger_breaks_the_next_link():
    entries = _append(4)
    forged = entries[1]
    forged.actor = "mallory"
    new_hash = ledger_entry_hash(
        seq=forged.seq,
        recorded_at=forged.recorded_at,
        actor=forged.actor,
        actor_user_id=None,
        action=forged.action,
        object_type=forged.object_type,
        object_id=forged.object_id,
        object_sha256=forged.object_sha256,
        details=forged.details,
        prev_hash=forged.prev_hash,
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_refuse_update_delete ON evidence_ledgerentry")
        cursor.execute(
            "UPDATE evidence_ledgerentry SET actor = 'mallory', entry_hash = %s WHERE seq = 2",
            [new_hash],
        )
    result = ledger_verify()
    assert not result.ok
    assert result.failure["seq"] == 3
    assert "previous-hash" in result.failure["reason"]


def test_deleted_entry_is_named_as_a_gap():
    _append(4)
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_refuse_update_delete ON evidence_ledgerentry")
        cursor.execute("DELETE FROM evidence_ledgerentry WHERE seq = 2")
    result = ledger_verify()
    assert not result.ok
    assert result.failure["seq"] == 3
    assert "gap" in result.failure["reason"]


def test_entry_rolls_back_with_the_change_it_records():
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger_append(actor=None, action="created", object_type="case", object_id=1)
        raise RuntimeError("the change failed")
    assert LedgerEntry.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_form_one_chain():
    per_thread = 40
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def writer(name: str) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with transaction.atomic():
                    ledger_append(
                        actor=f"system:{name}", action="ingested", object_type="batch", object_id=i
                    )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 3 * per_thread + 1))
    assert {a for a in LedgerEntry.objects.values_list("actor", flat=True)} == {
        "system:w0",
        "system:w1",
        "system:w2",
    }
    result = ledger_verify()
    assert result.ok, result.failure
    assert result.entries_checked == 3 * per_thread


def test_hash_definitions_are_unchanged_byte_for_byte():
    """Hashes recorded years ago must recompute: these values were computed by the
    definitions before they moved to `evidence.custody.canonical`."""
    entry = ledger_entry_hash(
        seq=7,
        recorded_at=dt.datetime(2026, 1, 5, 12, 30, 1, 123456, tzinfo=dt.UTC),
        actor="carla",
        actor_user_id=3,
        action="created",
        object_type="case",
        object_id="CASE-1",
        object_sha256="a" * 64,
        details={"title": "Distillation", "respondent": "Blue Finch", "n": [1, "ü"]},
        prev_hash="b" * 64,
    )
    assert entry == "4f1f76c4f46f3de81861885f19367cb79a9c90f10e8b81a90bb30a430984edb9"
    row = {
        "org_name": "Blue Finch",
        "created_at": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        "plan": "tier-1",
        "n": None,
    }
    assert (
        content_sha256(row, ("org_name", "created_at", "plan", "n"))
        == "b21950f79a08d30f666960000d531da6cd4e07da58727a767052bc00f8a5a128"
    )
    assert (
        rows_digest(["a" * 64, "b" * 64])
        == hashlib.sha256(("a" * 64 + "\n" + "b" * 64 + "\n").encode()).hexdigest()
    )
    data = b"x" * (3 * 1024 * 1024 + 5)
    copy = io.BytesIO()
    assert file_sha256(io.BytesIO(data), copy_to=copy) == (
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    assert copy.getvalue() == data


def test_events_write_the_payload_readers_rely_on(counsel_user):
    """Every entry keeps the object and details keys the custody history, reports and
    audit read; only the action names the kind of event."""
    case = SimpleNamespace(reference="CASE-9", title="T", respondent="R")
    clause = SimpleNamespace(
        text_sha256="c" * 64,
        path="3.3(f)",
        category="key_transfer",
        version=SimpleNamespace(label="1", document=SimpleNamespace(slug="sa")),
    )
    opened = events.case_opened(actor=counsel_user, case=case)
    alleged = events.allegation_added(
        actor=counsel_user, case=case, allegation=SimpleNamespace(pk=4, clause=clause)
    )
    noted = events.note_added(actor=counsel_user, case=case, note=SimpleNamespace(pk=5))
    assert (opened.action, opened.details) == ("created", {"title": "T", "respondent": "R"})
    assert (alleged.action, alleged.object_type, alleged.object_id) == ("alleged", "case", "CASE-9")
    assert alleged.object_sha256 == "c" * 64
    assert alleged.details == {
        "allegation": 4,
        "clause": "sa:1:3.3(f)",
        "category": "key_transfer",  # the category it is argued under
    }
    assert (noted.action, noted.details) == ("noted", {"note": 5})
    assert ledger_verify().ok


def test_a_read_is_recorded_in_a_transaction_no_caller_can_roll_back(counsel_user):
    """Durable services refuse to run inside another transaction rather than have their
    entry vanish with it."""
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        ledger_check(actor=counsel_user)
    assert not LedgerEntry.objects.exists()
    ledger_check(actor=counsel_user)
    assert LedgerEntry.objects.get().action == "verified"


@pytest.mark.usefixtures("media_root")
def test_a_refused_batch_is_recorded_outside_any_callers_transaction(tmp_path):
    """A file sent and refused is on the record for good: ingest will not record the refusal
    inside a transaction whose rollback would erase it."""
    path = tmp_path / "usage.ndjson"
    path.write_text("not json\n")
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        ingest_file(actor="system:test", kind="usage", path=path, strict=True)
    result = ingest_file(actor="system:test", kind="usage", path=path, strict=True)
    assert result.status == "rejected"
    entry = LedgerEntry.objects.get(action="ingested")
    assert entry.details["status"] == "rejected"
