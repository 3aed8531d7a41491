"""Verification is anchored in the ledger: a digest rewritten beside its rows is still named.

Each tampering here is what an insider with the database owner's rights could do (issue
#17): drop the trigger that refuses the edit, change the rows, store their recomputed
hashes and the batch's recomputed digest. Verification compares every digest with the
value the ledger recorded when the evidence came in, so `verify_evidence --json` names the
object, its id, the ledger's value as expected and what it found. Every earlier version of
an account's profile is kept, and checked the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from evidence.custody import events
from evidence.custody.canonical import (
    ACCOUNT_HASHED,
    ASSENT_HASHED,
    content_sha256,
    rows_digest,
    text_sha256,
    usage_row_sha256,
)
from evidence.custody.preservation import evidence_item_delete
from evidence.custody.verification import evidence_verify
from evidence.ingest.service import ingest_file
from evidence.models import (
    Account,
    AccountVersion,
    AssentRecord,
    Clause,
    IngestBatch,
    LedgerEntry,
    TermsVersion,
    UsageEvent,
)
from evidence.services import evidence_item_store
from tests.factories import ndjson_file, terms_version, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
PROFILE = {"org_name": "Blue Finch Labs", "payment_fingerprint": "pf_8c1e", "plan": "tier-3"}


@pytest.fixture
def record(tmp_path):
    """Two profiled accounts, ten usage events, one assent record, Terms and a file."""
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts.ndjson",
            [{"account_id": a, **PROFILE} for a in ("acct_a", "acct_b")],
        ),
    )
    events_ = [
        {
            "request_id": f"req_{n:03d}",
            "ts": (T0 + dt.timedelta(hours=n)).isoformat(),
            "account_id": ("acct_a", "acct_b")[n % 2],
            "model": "frontier-2",
            "input_tokens": 10 + n,
            "output_tokens": 900 + n,
        }
        for n in range(10)
    ]
    ingest_file(
        actor="system:test", kind="usage", path=ndjson_file(tmp_path / "usage.ndjson", events_)
    )
    ingest_file(
        actor="system:test",
        kind="assent",
        path=ndjson_file(
            tmp_path / "assent.ndjson",
            [{"account_id": "acct_a", "terms": "sa", "version": "1", "ts": T0.isoformat(),
              "method": "clickwrap"}],
        ),
    )  # fmt: skip
    terms_version(
        tmp_path,
        "## 3. Use\n\n3.3 You will not: (a) use Output to develop competing models; "
        "(b) share API keys.\n",
        label="1",
        effective=dt.date(2026, 1, 1),
        document="sa",
    )
    item = evidence_item_store(
        actor="system:test",
        stream=io.BytesIO(b"\x89PNG signup screenshot"),
        file_name="signup.png",
        kind="screenshot",
        source="investigator",
    )
    assert evidence_verify(actor="system:test").ok
    return {"file": item}


def _sql(*statements: tuple[str, list] | str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            sql, params = (statement, []) if isinstance(statement, str) else statement
            cursor.execute(sql, params)


def _verify_json(capsys) -> dict:
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_evidence", "--json")
    assert exit_info.value.code == 1
    return json.loads(capsys.readouterr().out)


def _named(document: dict, obj: str, obj_id) -> dict:
    failures = [
        f for f in document["failures"] if (f["object"], str(f["id"])) == (obj, str(obj_id))
    ]
    assert failures, document["failures"]
    assert {"object", "id", "reason", "expected", "found"} <= set(failures[0])
    return failures[0]


def _profile_sha256(**changes) -> str:
    """The content hash of acct_a's profile (as ingested from PROFILE) with `changes`."""
    row = {name: "" for name in ACCOUNT_HASHED} | {"created_at": None, "signup_ip": None}
    row |= {"account_id": "acct_a", "reseller": False, **PROFILE, **changes}
    return content_sha256(row, ACCOUNT_HASHED)


def _ingested(batch_id: int) -> LedgerEntry:
    return LedgerEntry.objects.get(
        action="ingested", object_type="ingest_batch", object_id=str(batch_id)
    )


# --- the three edits of the issue ---------------------------------------------------------


def test_usage_row_rewritten_with_its_hash_and_the_batch_digest_is_named(record, capsys):
    batch = IngestBatch.objects.get(kind="usage")
    recorded = _ingested(batch.pk).details["rows_digest"]
    row = UsageEvent.objects.values().get(request_id="req_004")
    row.update(model="cheap-1", output_tokens=1)
    forged_row = usage_row_sha256(row)
    hashes = [
        forged_row if request_id == "req_004" else row_hash
        for request_id, row_hash in UsageEvent.objects.filter(batch=batch)
        .order_by("id")
        .values_list("request_id", "row_sha256")
    ]
    forged_digest = rows_digest(hashes)
    _sql(
        "DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent",
        "DROP TRIGGER ingest_batch_refuse_update_delete ON evidence_ingestbatch",
        (
            "UPDATE evidence_usageevent SET model = 'cheap-1', output_tokens = 1, "
            "row_sha256 = %s WHERE request_id = 'req_004'",
            [forged_row],
        ),
        (
            "UPDATE evidence_ingestbatch SET rows_digest = %s WHERE id = %s",
            [forged_digest, batch.pk],
        ),
    )
    document = _verify_json(capsys)
    failure = _named(document, "ingest_batch", batch.pk)
    assert (failure["expected"], failure["found"]) == (recorded, forged_digest)
    assert document["failures_total"] == 1  # the row itself hashes as stored


def test_account_profile_rewritten_with_its_hash_is_named(record, capsys):
    original = Account.objects.get(account_id="acct_a").content_sha256
    assert original == _profile_sha256()
    forged = _profile_sha256(org_name="Someone Else", payment_fingerprint="pf_x")
    # No trigger to drop: the database lets ingest update an account no hold protects.
    _sql(
        (
            "UPDATE evidence_account SET org_name = 'Someone Else', payment_fingerprint = 'pf_x', "
            "content_sha256 = %s WHERE account_id = 'acct_a'",
            [forged],
        )
    )
    failure = _named(_verify_json(capsys), "account", "acct_a")
    assert (failure["expected"], failure["found"]) == (original, forged)
    assert "latest recorded version" in failure["reason"]


def test_profile_version_rewritten_with_the_account_is_named_through_its_batch(record, capsys):
    """The forger rewrites the recorded version and the batch's digest too: the ledger entry
    written when the batch came in still holds the original digest."""
    batch = IngestBatch.objects.get(kind="accounts")
    recorded = _ingested(batch.pk).details["rows_digest"]
    _sql(
        "DROP TRIGGER account_version_refuse_update_delete ON evidence_accountversion",
        "DROP TRIGGER ingest_batch_refuse_update_delete ON evidence_ingestbatch",
    )
    forged = _profile_sha256(org_name="Someone Else", payment_fingerprint="pf_x")
    forge = "org_name = 'Someone Else', payment_fingerprint = 'pf_x', content_sha256 = %s"
    _sql(
        (f"UPDATE evidence_account SET {forge} WHERE account_id = 'acct_a'", [forged]),
        (
            f"UPDATE evidence_accountversion SET {forge} "
            "WHERE account_id = (SELECT id FROM evidence_account WHERE account_id = 'acct_a')",
            [forged],
        ),
    )
    hashes = list(
        AccountVersion.objects.filter(batch=batch)
        .order_by("id")
        .values_list("content_sha256", flat=True)
    )
    _sql(
        (
            "UPDATE evidence_ingestbatch SET rows_digest = %s WHERE id = %s",
            [rows_digest(hashes), batch.pk],
        )
    )
    document = _verify_json(capsys)
    failure = _named(document, "ingest_batch", batch.pk)
    assert (failure["expected"], failure["found"]) == (recorded, rows_digest(hashes))


def test_assent_record_rewritten_with_its_hash_and_digest_is_named(record, capsys):
    batch = IngestBatch.objects.get(kind="assent")
    recorded = _ingested(batch.pk).details["rows_digest"]
    assent = AssentRecord.objects.get()
    row = {
        "account_id": "acct_a", "terms_slug": "sa", "version_label": "1",
        "accepted_at": T0 + dt.timedelta(days=30), "ip": None, "user_agent": "",
        "method": "clickwrap", "flow_id": "", "screenshot_sha256": "",
    }  # fmt: skip
    forged = content_sha256(row, ASSENT_HASHED)
    _sql(
        "DROP TRIGGER assent_refuse_update_delete ON evidence_assentrecord",
        "DROP TRIGGER ingest_batch_refuse_update_delete ON evidence_ingestbatch",
        (
            "UPDATE evidence_assentrecord SET accepted_at = %s, content_sha256 = %s WHERE id = %s",
            [row["accepted_at"], forged, assent.pk],
        ),
        (
            "UPDATE evidence_ingestbatch SET rows_digest = %s WHERE id = %s",
            [rows_digest([forged]), batch.pk],
        ),
    )
    failure = _named(_verify_json(capsys), "ingest_batch", batch.pk)
    assert (failure["expected"], failure["found"]) == (recorded, rows_digest([forged]))


# --- Terms, clauses and files -------------------------------------------------------------


def test_terms_text_rewritten_with_its_hash_is_named(record, capsys):
    version = TermsVersion.objects.get()
    text = version.text.replace("competing", "any")
    _sql(
        (
            "UPDATE evidence_termsversion SET text = %s, text_sha256 = %s WHERE id = %s",
            [text, text_sha256(text), version.pk],
        )
    )
    failure = _named(_verify_json(capsys), "terms_version", version.pk)
    assert (failure["expected"], failure["found"]) == (version.text_sha256, text_sha256(text))


def test_clause_rewritten_with_its_hash_is_named_through_its_version(record, capsys):
    clause = Clause.objects.get(path="3.3(a)")
    text = "use Output for anything"
    _sql(
        (
            "UPDATE evidence_clause SET text = %s, text_sha256 = %s WHERE id = %s",
            [text, text_sha256(text), clause.pk],
        )
    )
    entry = LedgerEntry.objects.get(action="imported", object_type="terms_version")
    failure = _named(_verify_json(capsys), "terms_version", clause.version_id)
    assert failure["expected"] == entry.details["clauses_digest"]
    assert "reworded" in failure["reason"]


def test_evidence_file_replaced_with_its_hash_is_named(record, capsys):
    item = record["file"]
    forged = b"\x89PNG another screenshot"
    Path(item.file.path).write_bytes(forged)
    forged_sha = hashlib.sha256(forged).hexdigest()
    _sql(
        "DROP TRIGGER evidence_item_refuse_update_delete ON evidence_evidenceitem",
        ("UPDATE evidence_evidenceitem SET sha256 = %s WHERE id = %s", [forged_sha, item.pk]),
    )
    failure = _named(_verify_json(capsys), "evidence_item", item.pk)
    assert (failure["expected"], failure["found"]) == (item.sha256, forged_sha)


def test_evidence_file_removed_without_a_recorded_deletion_is_named(record, capsys):
    item = record["file"]
    _sql(
        "DROP TRIGGER evidence_item_refuse_update_delete ON evidence_evidenceitem",
        ("DELETE FROM evidence_evidenceitem WHERE id = %s", [item.pk]),
    )
    failure = _named(_verify_json(capsys), "evidence_item", item.pk)
    assert failure["expected"] == item.sha256 and failure["found"] is None


def test_a_deletion_through_the_app_verifies(record):
    evidence_item_delete(actor="system:test", item=record["file"])
    run = evidence_verify(actor="system:test")
    assert run.ok, run.failures


def test_a_batch_removed_with_all_its_rows_is_named(record, capsys):
    batch = IngestBatch.objects.get(kind="usage")
    recorded = _ingested(batch.pk).details["rows_digest"]
    _sql(
        "DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent",
        "DROP TRIGGER ingest_batch_refuse_update_delete ON evidence_ingestbatch",
        "DROP TRIGGER ingest_batch_refuse_delete_with_rows ON evidence_ingestbatch",
        ("DELETE FROM evidence_usageevent WHERE batch_id = %s", [batch.pk]),
        ("DELETE FROM evidence_ingestbatch WHERE id = %s", [batch.pk]),
    )
    failure = _named(_verify_json(capsys), "ingest_batch", batch.pk)
    assert failure["expected"] == recorded
    assert "is not on record" in failure["reason"]


# --- account profile history --------------------------------------------------------------


def test_every_version_of_a_changed_profile_is_kept_and_verified(record, tmp_path, client):
    first = Account.objects.get(account_id="acct_a").content_sha256
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts-2.ndjson",
            [
                {
                    "account_id": "acct_a",
                    **PROFILE,
                    "payment_fingerprint": "pf_new",
                    "status": "suspended",
                }
            ],
        ),
    )
    versions = list(AccountVersion.objects.filter(account__account_id="acct_a").order_by("version"))
    assert [(v.version, v.payment_fingerprint, v.status) for v in versions] == [
        (1, "pf_8c1e", ""),
        (2, "pf_new", "suspended"),
    ]
    assert versions[0].content_sha256 == first
    assert versions[1].content_sha256 == Account.objects.get(account_id="acct_a").content_sha256
    entry = _ingested(versions[1].batch_id)
    assert entry.details["account_versions"] == 1
    assert entry.details["updated_accounts"] == [{"account_id": "acct_a", "previous_sha256": first}]
    assert evidence_verify(actor="system:test").ok

    client.force_login(user_with_role("ivy", "investigator"))
    page = client.get("/accounts/acct_a/").content.decode()
    assert "Profile history" in page
    assert "pf_8c1e" in page and "pf_new" in page
    assert first in page


def test_a_rewritten_earlier_version_is_named(record, tmp_path, capsys):
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(tmp_path / "a2.ndjson", [{"account_id": "acct_a", "org_name": "Renamed"}]),
    )
    _sql(
        "DROP TRIGGER account_version_refuse_update_delete ON evidence_accountversion",
        "UPDATE evidence_accountversion SET payment_fingerprint = 'pf_other' WHERE version = 1 "
        "AND account_id = (SELECT id FROM evidence_account WHERE account_id = 'acct_a')",
    )
    failure = _named(_verify_json(capsys), "account_version", "acct_a version 1")
    assert failure["expected"] != failure["found"]


def test_profile_versions_are_append_only(record):
    for statement in (
        "UPDATE evidence_accountversion SET org_name = 'x'",
        "DELETE FROM evidence_accountversion",
        "TRUNCATE evidence_accountversion",
    ):
        with (
            pytest.raises(DatabaseError, match="account profile versions"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("SET LOCAL pacta.allow_truncate = 'off'")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixture's FKs, as at commit
            cursor.execute(statement)


def test_a_profile_with_no_recorded_version_is_named(record, capsys):
    Account.objects.create(account_id="acct_new", org_name="Inserted", content_sha256="0" * 64)
    failure = _named(_verify_json(capsys), "account", "acct_new")
    assert failure["expected"] is None


def test_batches_recorded_before_versions_were_kept_are_counted_not_failed(record):
    """A batch whose ledger entry predates profile versions cannot have its digest rebuilt
    from them; verification says how many versions it could check only against their own
    hash, rather than failing them or passing them silently."""
    now = dt.datetime.now(dt.UTC)
    account = Account.objects.create(account_id="acct_old", org_name="Old", recorded_at=now)
    row = {name: getattr(account, name) for name in ACCOUNT_HASHED}
    row["signup_ip"] = None
    digest = content_sha256(row, ACCOUNT_HASHED)
    batch = IngestBatch.objects.create(
        kind="accounts", source="cli", format="native", file_name="old.ndjson",
        raw_sha256="a" * 64, raw_size=1, collector_label="system:test", started_at=now,
        finished_at=now, status="committed", accepted=1, rows_digest=rows_digest([digest]),
    )  # fmt: skip
    Account.objects.filter(pk=account.pk).update(content_sha256=digest, batch=batch)
    AccountVersion.objects.create(
        account=account, version=1, org_name="Old", content_sha256=digest, batch=batch,
        recorded_at=now,
    )  # fmt: skip
    events.batch_ingested(actor="system:test", batch=batch, same_as_batch=None)  # no count
    run = evidence_verify(actor="system:test")
    assert run.ok, run.failures
    assert run.checked["account_versions_unanchored"] == 1
    assert run.checked["account_versions"] == 3
