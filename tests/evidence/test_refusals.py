"""The database refuses edits to evidence rows from any client, not only through the app.

Each statement here is what someone with a plain database connection could try (the SQL
an attacker used against the record, issue #17); the triggers of migration 0100 refuse it
and say which table and why. The app's own paths (ingest, the retention purge, deleting an
unheld file) still work.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import DatabaseError, connection, transaction

from evidence.custody.canonical import rows_digest, usage_row_sha256
from evidence.custody.preservation import (
    evidence_item_delete,
    holds_place,
    holds_release,
    retention_purge,
)
from evidence.custody.verification import evidence_verify
from evidence.ingest.service import ingest_file
from evidence.models import (
    Account,
    AssentRecord,
    EvidenceItem,
    IngestBatch,
    PreservationHold,
    UsageEvent,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
GUARDED_TABLES = (
    "evidence_usageevent",
    "evidence_assentrecord",
    "evidence_account",
    "evidence_ingestbatch",
    "evidence_evidenceitem",
)


def _ndjson(path, records) -> object:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def record(tmp_path):
    """Two accounts, twenty usage events over twenty days, one assent, one rejects file."""
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=_ndjson(
            tmp_path / "accounts.ndjson",
            [
                {"account_id": a, "org_name": a.upper(), "payment_fingerprint": f"pf_{a}"}
                for a in ("acct_a", "acct_b")
            ],
        ),
    )
    events = [
        {
            "request_id": f"req_{n:03d}",
            "ts": (T0 + dt.timedelta(days=n)).isoformat(),
            "account_id": ("acct_a", "acct_b")[n % 2],
            "model": "frontier-2",
            "input_tokens": 10 + n,
            "output_tokens": 100 + n,
        }
        for n in range(20)
    ]
    usage = _ndjson(tmp_path / "usage.ndjson", events)
    usage.write_text(usage.read_text() + "not json\n")  # one bad line: a rejects file
    ingest_file(actor="system:test", kind="usage", path=usage)
    ingest_file(
        actor="system:test",
        kind="assent",
        path=_ndjson(
            tmp_path / "assent.ndjson",
            [
                {
                    "account_id": "acct_a",
                    "terms": "sa",
                    "version": "1",
                    "ts": T0.isoformat(),
                    "method": "clickwrap",
                }
            ],
        ),
    )
    return {"rejects": EvidenceItem.objects.get(kind="ingest_rejects")}


@pytest.fixture
def held(record):
    """acct_a's usage held in its first ten days, and the rejects file held."""
    holds_place(
        actor="system:test",
        reference="CASE-1",
        accounts=[Account.objects.get(account_id="acct_a")],
        window_start=T0,
        window_end=T0 + dt.timedelta(days=10),
        evidence_items=[record["rejects"]],
    )
    return record


def _refused(statement: str, params=(), *, match: str, setting: tuple[str, str] | None = None):
    """Run one statement in a transaction of its own, which the database must refuse."""
    with (
        pytest.raises(DatabaseError, match=match),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        if setting is not None:
            cursor.execute("SELECT set_config(%s, %s, true)", list(setting))
        cursor.execute(statement, list(params))


# --- the three edits that passed verification --------------------------------------------


def test_usage_row_edited_with_its_recomputed_hash_is_refused(record):
    row = UsageEvent.objects.values().get(request_id="req_004")
    row.update(model="cheap-1", output_tokens=1, source_ip=None)
    forged = usage_row_sha256(row)
    _refused(
        "UPDATE evidence_usageevent SET model = 'cheap-1', output_tokens = 1, row_sha256 = %s "
        "WHERE request_id = 'req_004'",
        [forged],
        match=r"evidence_usageevent holds usage events, which are evidence and never changed: "
        r"UPDATE of row \d+ is refused",
    )
    assert UsageEvent.objects.get(request_id="req_004").output_tokens == 104


def test_batch_digest_rewritten_to_match_forged_rows_is_refused(record):
    batch = IngestBatch.objects.get(kind="usage")
    hashes = list(
        UsageEvent.objects.filter(batch=batch).order_by("id").values_list("row_sha256", flat=True)
    )
    _refused(
        "UPDATE evidence_ingestbatch SET rows_digest = %s WHERE id = %s",
        [rows_digest(["0" * 64, *hashes[1:]]), batch.pk],
        match=f"evidence_ingestbatch holds ingest batches, .* UPDATE of row {batch.pk} is refused",
    )
    batch.refresh_from_db()
    assert batch.rows_digest == rows_digest(hashes)


def test_held_account_profile_cannot_be_changed(held):
    _refused(
        "UPDATE evidence_account SET org_name = 'Someone Else', payment_fingerprint = 'pf_x', "
        "content_sha256 = %s WHERE account_id = 'acct_a'",
        ["f" * 64],
        match="evidence_account: account acct_a is preserved under a legal hold: UPDATE is refused",
    )
    assert Account.objects.get(account_id="acct_a").org_name == "ACCT_A"


def test_held_account_cannot_be_deleted(held):
    _refused(
        "DELETE FROM evidence_account WHERE account_id = 'acct_a'",
        match="account acct_a is preserved under a legal hold: DELETE is refused",
    )


# --- what the app never does -------------------------------------------------------------


@pytest.mark.parametrize("table", GUARDED_TABLES)
def test_truncate_is_refused_outside_throwaway_databases(record, table):
    with (
        pytest.raises(DatabaseError, match="which are evidence: TRUNCATE is refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The test database is throwaway (conftest allows TRUNCATE in it); production is
        # not. The fixture's foreign keys are checked first, as a commit would have.
        cursor.execute("SET LOCAL pacta.allow_truncate = 'off'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert UsageEvent.objects.count() == 20


def test_a_session_cannot_allow_truncate_for_itself(record):
    """Only the database's own setting, which takes ALTER DATABASE, lets TRUNCATE through."""
    name = connection.settings_dict["NAME"]
    with (
        pytest.raises(DatabaseError, match="TRUNCATE is refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f'ALTER DATABASE "{name}" RESET pacta.allow_truncate')
        cursor.execute("SET LOCAL pacta.allow_truncate = 'on'")
        cursor.execute("TRUNCATE evidence_usageevent")
    assert UsageEvent.objects.count() == 20


def test_usage_rows_are_deleted_only_by_the_retention_purge(record, settings):
    _refused(
        "DELETE FROM evidence_usageevent WHERE request_id = 'req_001'",
        match="evidence_usageevent holds usage events, .* DELETE of row \\d+ is refused",
    )
    settings.PACTA_USAGE_RETENTION_DAYS = 1
    purge = retention_purge(actor="system:test", now=T0 + dt.timedelta(days=10))
    assert purge.removed == 9
    # The purge's permission ended with it, even inside this test's outer transaction.
    _refused(
        "DELETE FROM evidence_usageevent WHERE request_id = 'req_015'",
        match="DELETE of row \\d+ is refused",
    )
    assert UsageEvent.objects.count() == 11
    assert evidence_verify(actor="system:test").ok


def test_assent_records_are_never_changed_or_removed(record):
    pk = AssentRecord.objects.get().pk
    for statement in (
        "UPDATE evidence_assentrecord SET accepted_at = accepted_at + interval '1 year'",
        "DELETE FROM evidence_assentrecord",
    ):
        _refused(statement, match=f"evidence_assentrecord holds assent records, .* row {pk}")


def test_a_batch_without_rows_cannot_be_deleted_either(record):
    batch = IngestBatch.objects.get(kind="assent")
    _refused(
        "DELETE FROM evidence_ingestbatch WHERE id = %s",
        [batch.pk],
        match=f"ingest batches, .* DELETE of row {batch.pk} is refused",
    )


def test_evidence_files_are_deleted_only_through_the_app(record):
    item = EvidenceItem.objects.create(
        kind="other",
        file="evidence/draft.txt",
        file_name="draft.txt",
        sha256="a" * 64,
        size=0,
        source="a draft exhibit",
        collector_label="system:test",
        collected_at=T0,
    )
    for statement in (
        "UPDATE evidence_evidenceitem SET sha256 = repeat('b', 64) WHERE id = %s",
        "DELETE FROM evidence_evidenceitem WHERE id = %s",
    ):
        _refused(statement, [item.pk], match=f"evidence files, .* of row {item.pk} is refused")
    evidence_item_delete(actor="system:test", item=item)
    assert not EvidenceItem.objects.filter(pk=item.pk).exists()


def test_account_named_by_usage_keeps_its_id_and_row(record):
    _refused(
        "UPDATE evidence_account SET account_id = 'acct_z' WHERE account_id = 'acct_b'",
        match="account acct_b is named by usage and assent records by its account_id",
    )
    Account.objects.create(account_id="acct_unused")
    _refused(
        "DELETE FROM evidence_account WHERE account_id = 'acct_b'",
        match="evidence_account: account acct_b has usage rows: DELETE is refused",
    )
    Account.objects.filter(account_id="acct_unused").delete()  # no usage, no hold: allowed


# --- held rows, whatever the path ----------------------------------------------------------


def test_held_rows_are_refused_even_on_the_maintenance_paths(held):
    usage = UsageEvent.objects.get(request_id="req_002")  # acct_a, day 2: held
    _refused(
        "DELETE FROM evidence_usageevent WHERE id = %s",
        [usage.pk],
        match="preserved under a legal hold",
        setting=("pacta.maintenance", "retention_purge"),
    )
    _refused(
        "DELETE FROM evidence_evidenceitem WHERE id = %s",
        [held["rejects"].pk],
        match="preserved under a legal hold",
        setting=("pacta.maintenance", "evidence_item_delete"),
    )
    _refused(
        "UPDATE evidence_usageevent SET output_tokens = 0 WHERE id = %s",
        [usage.pk],
        match="UPDATE of row",
        setting=("pacta.maintenance", "retention_purge"),
    )
    assert EvidenceItem.objects.filter(pk=held["rejects"].pk).exists()


def test_a_file_changing_a_held_account_rejects_that_line_and_keeps_the_rest(held, tmp_path):
    changed = _ndjson(
        tmp_path / "accounts-2.ndjson",
        [
            {"account_id": "acct_b", "org_name": "Renamed B"},
            {"account_id": "acct_a", "org_name": "Renamed"},
            {"account_id": "acct_a", "org_name": "ACCT_A", "payment_fingerprint": "pf_acct_a"},
            {"account_id": "acct_c", "org_name": "New"},
        ],
    )
    result = ingest_file(actor="system:test", kind="accounts", path=changed)
    assert result.status == "committed"
    assert result.errors == [
        {
            "line": 2,
            "field": "account_id",
            "message": "account acct_a is under legal hold by CASE-1; its profile is not changed",
        }
    ]
    assert (result.accepted, result.duplicates, result.rejected) == (2, 1, 1)
    names = dict(Account.objects.values_list("account_id", "org_name"))
    assert names == {"acct_a": "ACCT_A", "acct_b": "Renamed B", "acct_c": "New"}
    assert evidence_verify(actor="system:test").ok


def test_a_strict_file_changing_a_held_account_is_refused_whole(held, tmp_path):
    changed = _ndjson(
        tmp_path / "accounts-2.ndjson",
        [{"account_id": "acct_b", "org_name": "B"}, {"account_id": "acct_a", "org_name": "A"}],
    )
    result = ingest_file(actor="system:test", kind="accounts", path=changed, strict=True)
    assert result.status == "rejected"
    assert [e["line"] for e in result.errors] == [2]
    assert Account.objects.get(account_id="acct_b").org_name == "ACCT_B"


def test_unheld_account_profile_is_still_updated_by_ingest(record, tmp_path):
    changed = _ndjson(
        tmp_path / "accounts-2.ndjson", [{"account_id": "acct_b", "org_name": "Renamed"}]
    )
    result = ingest_file(actor="system:test", kind="accounts", path=changed)
    assert result.updated == 1
    assert Account.objects.get(account_id="acct_b").org_name == "Renamed"


# --- holds: released once, never deleted ---------------------------------------------------


def test_a_hold_may_only_be_released_once(held):
    hold = PreservationHold.objects.filter(account__isnull=False).get()
    for statement in (
        "UPDATE evidence_preservationhold SET window_end = window_end + interval '1 day' "
        "WHERE id = %s",
        "UPDATE evidence_preservationhold SET reference = 'CASE-2' WHERE id = %s",
        "DELETE FROM evidence_preservationhold WHERE id = %s",
    ):
        _refused(statement, [hold.pk], match=f"hold {hold.pk} \\(CASE-1\\)")
    assert holds_release(reference="CASE-1") == 2  # the app's one path: released_at is set
    hold.refresh_from_db()
    assert hold.released_at is not None
    for statement in (
        "UPDATE evidence_preservationhold SET released_at = NULL WHERE id = %s",
        "UPDATE evidence_preservationhold SET released_at = now() WHERE id = %s",
    ):
        _refused(statement, [hold.pk], match="may only be released, once: this UPDATE is refused")
    _refused(
        "DELETE FROM evidence_preservationhold WHERE id = %s",
        [hold.pk],
        match="is the record of a legal hold: DELETE is refused",
    )
    assert PreservationHold.objects.filter(pk=hold.pk, released_at=hold.released_at).exists()


def test_holds_cannot_be_truncated_by_a_session_setting(held):
    name = connection.settings_dict["NAME"]
    with (
        pytest.raises(DatabaseError, match=r"legal holds, .*: TRUNCATE is refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f'ALTER DATABASE "{name}" RESET pacta.allow_truncate')
        cursor.execute("SET LOCAL pacta.allow_truncate = 'on'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE evidence_preservationhold")
    assert PreservationHold.objects.count() == 2
