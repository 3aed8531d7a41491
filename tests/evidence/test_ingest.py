"""Ingest: every format, every kind of bad input, strictness, idempotency and provenance."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from evidence.custody.canonical import usage_row_sha256
from evidence.custody.integrity import usage_batches_verify
from evidence.ingest.records import prompt_template_key
from evidence.ingest.service import ingest_file
from evidence.ingest.tuning import IngestTuning
from evidence.models import (
    Account,
    ApiKey,
    AssentRecord,
    EvidenceItem,
    IngestBatch,
    LedgerEntry,
    UsageEvent,
)
from tests.factories import ndjson_file, usage_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def write_csv(path, records, *, gz=False):
    columns = list(records[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for record in records:
        writer.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in record.items()})
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def ingest(kind, path, **kwargs):
    return ingest_file(actor="system:test", kind=kind, path=path, **kwargs)


# --- formats ---------------------------------------------------------------------------


def test_native_ndjson_is_stored_with_provenance(tmp_path):
    path = ndjson_file(tmp_path / "usage.ndjson", [usage_event(i) for i in range(10)])
    result = ingest("usage", path)
    assert (result.accepted, result.duplicates, result.rejected) == (10, 0, 0)
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    batch = IngestBatch.objects.get(pk=result.batch)
    assert batch.raw_sha256 == result.sha256
    assert batch.raw_size == path.stat().st_size
    assert (batch.kind, batch.format, batch.file_name) == ("usage", "native", "usage.ndjson")
    event = UsageEvent.objects.get(request_id="req_000003")
    assert event.batch_id == batch.pk
    assert event.input_tokens == 403
    assert event.params["top_logprobs"] == 5
    assert event.prompt_sha256 == hashlib.sha256(b"Solve step by step: what is 3 * 41?").hexdigest()
    assert event.prompt_excerpt == "Solve step by step: what is 3 * 41?"
    assert event.prompt_text == ""  # full text only when the deployment allows it
    entry = LedgerEntry.objects.get(object_type="ingest_batch", object_id=str(batch.pk))
    assert entry.action == "ingested"
    assert entry.object_sha256 == result.sha256
    assert entry.details["accepted"] == 10
    assert entry.details["rows_digest"] == batch.rows_digest
    assert usage_batches_verify()["ok"]


def test_full_prompt_kept_only_when_allowed(tmp_path, settings):
    settings.PACTA_STORE_FULL_PROMPTS = True
    ingest("usage", ndjson_file(tmp_path / "u.ndjson", [usage_event(1, prompt="x" * 500)]))
    event = UsageEvent.objects.get()
    assert event.prompt_text == "x" * 500
    assert len(event.prompt_excerpt) == 200


def test_templated_prompts_share_a_template_key():
    a = prompt_template_key('Solve step by step: what is 37 * 41? Use "method A".')
    b = prompt_template_key('Solve  step by step: what is 12 * 9?   Use "method B".')
    c = prompt_template_key("Write a poem about the sea.")
    assert a == b
    assert a != c


@pytest.mark.parametrize("gz", [False, True])
def test_csv_and_ndjson_give_identical_rows(tmp_path, gz):
    records = [usage_event(i) for i in range(6)]
    with transaction.atomic():  # rolled back: the NDJSON file loads into an empty table
        ingest("usage", write_csv(tmp_path / "u.csv", records, gz=gz), fmt="csv")
        from_csv = {e.request_id: e.row_sha256 for e in UsageEvent.objects.all()}
        transaction.set_rollback(True)
    ingest("usage", ndjson_file(tmp_path / "u.ndjson", records, gz=gz))
    from_ndjson = {e.request_id: e.row_sha256 for e in UsageEvent.objects.all()}
    assert len(from_csv) == 6
    assert from_csv == from_ndjson


def test_concatenated_gzip_members_are_read_in_full(tmp_path):
    first = b"".join(json.dumps(usage_event(i)).encode() + b"\n" for i in range(3))
    second = b"".join(json.dumps(usage_event(i)).encode() + b"\n" for i in range(3, 7))
    path = tmp_path / "rotated.ndjson.gz"
    path.write_bytes(gzip.compress(first) + gzip.compress(second))
    assert ingest("usage", path).accepted == 7


def test_gzip_hash_is_of_the_compressed_bytes_as_received(tmp_path):
    path = ndjson_file(tmp_path / "u.ndjson.gz", [usage_event(i) for i in range(5)], gz=True)
    result = ingest("usage", path)
    assert result.accepted == 5
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_litellm_spend_logs_adapter(tmp_path):
    row = {
        "request_id": "chatcmpl-1",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "startTime": "2026-01-06T09:30:00.000+00:00",
        "endTime": "2026-01-06T09:30:02.000+00:00",
        "model": "frontier-2",
        "user": "u-1",
        "team_id": "team-blue",
        "end_user": "reseller-customer-7",
        "requester_ip_address": "198.51.100.20",
        "prompt_tokens": 120,
        "completion_tokens": 340,
        "spend": 0.0042,
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Think step by step about 17 + 25."},
        ],
        "status": "success",
    }
    failed = dict(row, request_id="chatcmpl-2", status="failure", team_id=None)
    personal = dict(row, request_id="chatcmpl-3", api_key="b" * 64, team_id=None)
    rows = [row, failed, personal]
    result = ingest("usage", ndjson_file(tmp_path / "spend.ndjson", rows), fmt="litellm")
    assert result.accepted == 3, result.errors
    ok = UsageEvent.objects.get(request_id="chatcmpl-1")
    assert ok.account_id == "team-blue"
    assert ok.api_key_id == row["api_key"][:100]
    assert (ok.input_tokens, ok.output_tokens, ok.status) == (120, 340, 200)
    assert ok.end_user == "reseller-customer-7"
    assert str(ok.source_ip) == "198.51.100.20"
    assert ok.prompt_excerpt == "Think step by step about 17 + 25."
    bad = UsageEvent.objects.get(request_id="chatcmpl-2")
    assert bad.account_id == "team-blue"  # no team, but its key is the team's
    assert UsageEvent.objects.get(request_id="chatcmpl-3").account_id == "u-1"  # no team
    assert bad.status is None
    assert bad.params == {"litellm_status": "failure"}


def test_bedrock_invocation_log_adapter(tmp_path):
    row = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-01-07T12:00:00Z",
        "accountId": "123456789012",
        "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/harvester/session-1"},
        "region": "us-east-1",
        "requestId": "6c2f1e9a-0000-4000-8000-000000000001",
        "operation": "InvokeModel",
        "modelId": "frontier-2",
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": {
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                "max_tokens": 512,
                "temperature": 0.2,
            },
            "inputTokenCount": 9,
        },
        "output": {"outputContentType": "application/json", "outputTokenCount": 77},
    }
    result = ingest("usage", ndjson_file(tmp_path / "bedrock.ndjson", [row]), fmt="bedrock")
    assert result.accepted == 1, result.errors
    event = UsageEvent.objects.get()
    assert event.request_id == row["requestId"]
    assert event.account_id == "123456789012"
    assert event.end_user == row["identity"]["arn"]
    assert (event.input_tokens, event.output_tokens) == (9, 77)
    assert event.endpoint == "InvokeModel"
    assert event.params == {"max_tokens": 512, "temperature": 0.2}
    assert event.prompt_excerpt == "Hi"


def test_adapters_are_for_usage_only(tmp_path):
    from evidence.ingest.service import IngestUsageError

    path = ndjson_file(tmp_path / "a.ndjson", [{"account_id": "a"}])
    with pytest.raises(IngestUsageError, match="usage events only"):
        ingest("accounts", path, fmt="litellm")


# --- bad input ---------------------------------------------------------------------------


BAD_LINES = [
    (b"{not json", None, "not valid JSON"),
    (b"[1, 2]", None, "one JSON object"),
    (json.dumps(usage_event(1, request_id=None)).encode(), "request_id", "is required"),
    (json.dumps(usage_event(1, input_tokens="12")).encode(), "input_tokens", "whole number"),
    (json.dumps(usage_event(1, input_tokens=1.5)).encode(), "input_tokens", "whole number"),
    (
        json.dumps(usage_event(1, output_tokens=-5)).encode(),
        "output_tokens",
        "must not be negative",
    ),
    (json.dumps(usage_event(1, ts="yesterday")).encode(), "ts", "not an ISO-8601"),
    (json.dumps(usage_event(1, ts="2026-01-05T10:00:00")).encode(), "ts", "no time zone"),
    (json.dumps(usage_event(1, source_ip="300.1.2.3")).encode(), "source_ip", "not an IP address"),
    (json.dumps(usage_event(1, model=7)).encode(), "model", "must be a string"),
    (json.dumps(usage_event(1, colour="red")).encode(), "colour", "unknown field"),
    (json.dumps(usage_event(1, status=999)).encode(), "status", "not an HTTP status"),
    (json.dumps(usage_event(1, params=[1])).encode(), "params", "JSON object"),
    # jsonb cannot store NUL: a line error, not an aborted load.
    (
        json.dumps(usage_event(1, params={"stop": "a\x00b"})).encode(),
        "params.stop",
        "NUL character",
    ),
    (json.dumps(usage_event(1, params={"a\x00": 1})).encode(), "params.'a\\x00'", "NUL character"),
    ('{"request_id": "caf\xe9"}'.encode("latin-1"), None, "not valid UTF-8"),
]


@pytest.mark.parametrize(("line", "field", "message"), BAD_LINES)
def test_each_bad_line_is_named_and_kept_as_evidence(tmp_path, line, field, message):
    good = [json.dumps(usage_event(i)).encode() for i in range(2, 5)]
    path = tmp_path / "u.ndjson"
    path.write_bytes(b"\n".join([good[0], line, *good[1:]]) + b"\n")
    result = ingest("usage", path)
    assert result.accepted == 3
    assert result.rejected == 1
    [error] = result.errors
    assert error["line"] == 2
    assert error["field"] == field
    assert message in error["message"]
    rejects = EvidenceItem.objects.get(pk=result.rejects_file)
    assert rejects.kind == "ingest_rejects"
    kept = [json.loads(x) for x in rejects.file.open("rb").read().splitlines()]
    assert kept[0]["line"] == 2
    assert kept[0]["message"] == error["message"]
    assert "raw" in kept[0] or "raw_base64" in kept[0]
    assert IngestBatch.objects.get(pk=result.batch).rejects_file_id == rejects.pk


@pytest.mark.parametrize("gz", [False, True])
def test_over_long_line_is_rejected_by_its_length_and_kept_by_its_start_and_hash(
    tmp_path, settings, gz
):
    """The line is measured and hashed as it streams past, never held whole, and the
    rejects file keeps its first bytes: the length and hash tie them to the file."""
    settings.PACTA_INGEST_MAX_LINE_BYTES = 1000
    long_line = json.dumps(usage_event(9, prompt="y" * 50_000)).encode()
    lines = [json.dumps(usage_event(1)).encode(), long_line, json.dumps(usage_event(2)).encode()]
    data = b"\r\n".join(lines) + b"\r\n"
    path = tmp_path / ("u.ndjson.gz" if gz else "u.ndjson")
    path.write_bytes(gzip.compress(data) if gz else data)
    tuning = IngestTuning(read_buffer=4096, reject_prefix_bytes=300)  # the line spans reads
    result = ingest("usage", path, tuning=tuning)
    assert result.accepted == 2
    assert result.errors == [
        {
            "line": 2,
            "field": None,
            "message": f"line is {len(long_line):,} bytes long, longer than the maximum line "
            "length of 1,000 bytes (PACTA_INGEST_MAX_LINE_BYTES)",
        }
    ]
    [kept] = rejected_lines(result)
    assert kept["length"] == len(long_line)
    assert kept["sha256"] == hashlib.sha256(long_line).hexdigest()
    assert (kept["raw"], kept["truncated"]) == (long_line[:300].decode(), True)


def rejected_lines(result) -> list[dict]:
    """The rejects evidence file of a batch, one JSON object a line."""
    rejects = EvidenceItem.objects.get(pk=result.rejects_file)
    with rejects.file.open("rb") as fh:
        return [json.loads(line) for line in fh.read().splitlines()]


def test_truncated_gzip_keeps_the_valid_lines_and_says_so(tmp_path):
    data = gzip.compress(b"".join(json.dumps(usage_event(i)).encode() + b"\n" for i in range(200)))
    path = tmp_path / "u.ndjson.gz"
    path.write_bytes(data[: len(data) // 2])
    result = ingest("usage", path)
    assert result.errors[-1]["field"] == "file"
    assert "truncated" in result.errors[-1]["message"]
    assert result.status == "committed"
    assert 0 < result.accepted == UsageEvent.objects.count() < 200
    strict = ingest("usage", path, strict=True)
    assert strict.status == "rejected"


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.ndjson"
    path.write_bytes(b"")
    result = ingest("usage", path)
    assert result.status == "rejected"
    assert result.errors == [
        {"line": 0, "field": "file", "message": "the file is empty: there is nothing to ingest"}
    ]


def test_csv_with_unknown_column_is_refused_whole(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text(
        "request_id,ts,account_id,model,input_tokens,output_tokens,colour\n"
        "r1,2026-01-05T10:00:00Z,a,m,1,2,red\n"
    )
    result = ingest("usage", path, fmt="csv")
    assert result.status == "rejected"
    assert result.errors[0]["field"] == "colour"
    assert "unknown column" in result.errors[0]["message"]
    assert UsageEvent.objects.count() == 0


def test_csv_row_with_wrong_cell_count_names_its_line(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text(
        "request_id,ts,account_id,model,input_tokens,output_tokens\n"
        "r1,2026-01-05T10:00:00Z,a,m,1,2\n"
        "r2,2026-01-05T10:00:00Z,a,m,1\n"
    )
    result = ingest("usage", path, fmt="csv")
    assert result.accepted == 1
    assert result.errors[0]["line"] == 3
    assert "cells" in result.errors[0]["message"]


# --- strictness, idempotency, overlap ----------------------------------------------------


def test_strict_mode_commits_nothing_and_exits_1(tmp_path, capsys):
    lines = [json.dumps(usage_event(i)) for i in range(50)] + ['{"broken": ']
    path = tmp_path / "u.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        call_command("ingest", "usage", str(path), "--strict", "--json")
    assert exit_info.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "rejected"
    assert out["accepted"] == 0
    assert out["errors"][0]["line"] == 51
    assert UsageEvent.objects.count() == 0
    assert Account.objects.count() == 0  # no stubs either
    batch = IngestBatch.objects.get()
    assert batch.status == "rejected"  # the refusal itself is on the record
    assert LedgerEntry.objects.filter(
        object_type="ingest_batch", details__status="rejected"
    ).exists()


def test_reingesting_the_same_file_adds_nothing_and_says_so(tmp_path, capsys):
    path = ndjson_file(tmp_path / "u.ndjson", [usage_event(i) for i in range(30)])
    first = ingest("usage", path)
    second = ingest("usage", path)
    assert (first.accepted, first.duplicates) == (30, 0)
    assert (second.accepted, second.duplicates) == (0, 30)
    assert second.same_as_batch == first.batch
    assert UsageEvent.objects.count() == 30
    call_command("ingest", "usage", str(path))
    assert "was ingested before as batch" in capsys.readouterr().out
    assert usage_batches_verify()["ok"]


def test_overlapping_file_adds_only_what_is_new(tmp_path):
    tuning = IngestTuning(usage_chunk_rows=7)  # several chunks, both paths
    ingest(
        "usage",
        ndjson_file(tmp_path / "a.ndjson", [usage_event(i) for i in range(20)]),
        tuning=tuning,
    )
    overlapping = [usage_event(i) for i in range(30, 45)] + [usage_event(i) for i in range(10, 40)]
    result = ingest("usage", ndjson_file(tmp_path / "b.ndjson", overlapping), tuning=tuning)
    assert result.accepted == 25  # 20..44 are new
    assert result.duplicates == 20  # 10..19 stored before, 30..39 repeated in the file
    assert UsageEvent.objects.count() == 45
    check = usage_batches_verify()
    assert check["ok"], check["failures"]


def test_duplicate_request_ids_within_one_file(tmp_path):
    result = ingest(
        "usage",
        ndjson_file(tmp_path / "u.ndjson", [usage_event(1), usage_event(2), usage_event(1)]),
    )
    assert (result.accepted, result.duplicates) == (2, 1)


# --- integrity of stored rows ------------------------------------------------------------


def test_row_changed_by_raw_sql_is_caught_through_its_hash_and_batch(tmp_path):
    ingest("usage", ndjson_file(tmp_path / "u.ndjson", [usage_event(i) for i in range(10)]))
    with connection.cursor() as cursor:
        # What an insider with DDL rights could do: drop the guard (migration 0100) first.
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute(
            "UPDATE evidence_usageevent SET output_tokens = 1 WHERE request_id = 'req_000004'"
        )
    check = usage_batches_verify()
    assert not check["ok"]
    [failure] = check["failures"]
    assert failure["object"] == "usage_event"
    assert failure["id"] == "req_000004"


def test_row_deleted_by_raw_sql_breaks_the_batch_digest(tmp_path):
    result = ingest(
        "usage", ndjson_file(tmp_path / "u.ndjson", [usage_event(i) for i in range(10)])
    )
    with connection.cursor() as cursor:
        # What an insider with DDL rights could do: drop the guard (migration 0100) first.
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute("DELETE FROM evidence_usageevent WHERE request_id = 'req_000004'")
    check = usage_batches_verify()
    assert [(f["object"], f["id"]) for f in check["failures"]] == [("ingest_batch", result.batch)]


def test_database_refuses_to_delete_a_batch_that_still_has_rows(tmp_path):
    """What the batch FK refused before ingest dropped its per-row checks (migration 0006)."""
    result = ingest("usage", ndjson_file(tmp_path / "u.ndjson", [usage_event(i) for i in range(3)]))
    with (
        pytest.raises(IntegrityError, match="still has usage rows"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM evidence_ingestbatch WHERE id = %s", [result.batch])
    assert IngestBatch.objects.filter(pk=result.batch).exists()


def test_row_moved_to_a_batch_not_on_record_is_caught(tmp_path):
    result = ingest("usage", ndjson_file(tmp_path / "u.ndjson", [usage_event(i) for i in range(3)]))
    with connection.cursor() as cursor:
        # What an insider with DDL rights could do: drop the guard (migration 0100) first.
        cursor.execute("DROP TRIGGER usage_refuse_update_delete ON evidence_usageevent")
        cursor.execute(
            "UPDATE evidence_usageevent SET batch_id = %s WHERE request_id = 'req_000001'",
            [result.batch + 1000],
        )
    check = usage_batches_verify()
    reasons = {(f["object"], f["id"]): f["reason"] for f in check["failures"]}
    assert reasons == {
        ("ingest_batch", result.batch): "the batch's rows no longer match its digest "
        "(a row was added, removed or changed)",
        ("ingest_batch", result.batch + 1000): "rows belong to a batch that is not on record",
    }


def test_row_hash_is_recomputable_from_the_stored_row(tmp_path):
    ingest("usage", ndjson_file(tmp_path / "u.ndjson", [usage_event(1)]))
    event = UsageEvent.objects.values().get()
    event["source_ip"] = str(event["source_ip"])
    assert usage_row_sha256(event) == event["row_sha256"]


# --- accounts and assent -----------------------------------------------------------------


def account(account_id, **overrides):
    record = {
        "account_id": account_id,
        "org_name": "Blue Finch Labs",
        "email": "ops@bluefinch.example",
        "created_at": "2025-11-02T08:00:00Z",
        "country": "SG",
        "billing_country": "SG",
        "payment_fingerprint": "pf_8c1e",
        "signup_ip": "198.51.100.4",
        "signup_user_agent": "Mozilla/5.0",
        "plan": "tier-3",
        "status": "active",
        "reseller": False,
    }
    record.update(overrides)
    return record


def test_usage_for_unknown_accounts_creates_stubs_that_accounts_fill_in(tmp_path):
    import datetime as dt

    first = ingest("usage", ndjson_file(tmp_path / "u.ndjson", [usage_event(i) for i in range(6)]))
    stub = Account.objects.get(account_id="acct_1")
    assert stub.seen_only_in_usage
    assert (stub.org_name, stub.email, stub.status, stub.content_sha256) == ("", "", "", "")
    assert (stub.created_at, stub.signup_ip, stub.batch_id, stub.reseller) == (
        None,
        None,
        None,
        False,
    )
    assert stub.recorded_at is not None
    key = ApiKey.objects.get(key_id="key_1")
    assert key.account == stub
    assert key.batch_id == first.batch
    # usage_event(1) is the first event naming key_1: "2026-01-05T10:00:01.123Z"
    assert key.first_seen_at == dt.datetime(2026, 1, 5, 10, 0, 1, 123000, tzinfo=dt.UTC)
    result = ingest("accounts", ndjson_file(tmp_path / "a.ndjson", [account("acct_1")]))
    assert result.accepted == 1
    stub.refresh_from_db()
    assert not stub.seen_only_in_usage
    assert stub.org_name == "Blue Finch Labs"
    assert str(stub.signup_ip) == "198.51.100.4"
    assert stub.batch_id == result.batch


def test_accounts_reingest_is_duplicate_and_a_change_is_recorded(tmp_path):
    first = ingest("accounts", ndjson_file(tmp_path / "a.ndjson", [account("a1"), account("a2")]))
    assert first.accepted == 2
    again = ingest("accounts", ndjson_file(tmp_path / "a.ndjson", [account("a1"), account("a2")]))
    assert (again.accepted, again.duplicates) == (0, 2)
    previous = Account.objects.get(account_id="a2").content_sha256
    changed = ingest(
        "accounts", ndjson_file(tmp_path / "b.ndjson", [account("a2", status="suspended")])
    )
    assert (changed.accepted, changed.updated) == (1, 1)
    assert Account.objects.get(account_id="a2").status == "suspended"
    entry = LedgerEntry.objects.get(object_type="ingest_batch", object_id=str(changed.batch))
    assert entry.details["updated_accounts"] == [{"account_id": "a2", "previous_sha256": previous}]


def test_account_with_bad_country_and_flag_is_named(tmp_path):
    records = [account("a1", country="Singapore"), account("a2", reseller="maybe")]
    result = ingest("accounts", ndjson_file(tmp_path / "a.ndjson", records))
    assert [(e["line"], e["field"]) for e in result.errors] == [
        (1, "country"),
        (2, "reseller"),
    ]


def test_assent_records_link_to_their_terms_and_are_not_duplicated(tmp_path):
    from evidence.models import TermsDocument, TermsVersion

    document = TermsDocument.objects.create(slug="services-agreement", title="Services Agreement")
    version = TermsVersion.objects.create(
        document=document,
        label="2026-01-01",
        effective_date="2026-01-01",
        text="1. Terms",
        text_sha256="0" * 64,
    )
    record = {
        "account_id": "acct_9",
        "terms": "services-agreement",
        "version": "2026-01-01",
        "ts": "2025-11-02T08:01:10Z",
        "ip": "198.51.100.4",
        "user_agent": "Mozilla/5.0",
        "method": "clickwrap",
        "flow_id": "signup-v3",
        "screenshot_sha256": "9f2c" + "0" * 60,
    }
    unknown_version = dict(record, version="2019-01-01")
    result = ingest("assent", ndjson_file(tmp_path / "s.ndjson", [record, unknown_version]))
    assert result.accepted == 2
    linked = AssentRecord.objects.get(version_label="2026-01-01")
    assert linked.terms_version == version
    assert linked.account.account_id == "acct_9"
    assert linked.account.seen_only_in_usage
    assert AssentRecord.objects.get(version_label="2019-01-01").terms_version is None
    again = ingest("assent", ndjson_file(tmp_path / "s.ndjson", [record]))
    assert (again.accepted, again.duplicates) == (0, 1)
    bad = ingest("assent", ndjson_file(tmp_path / "t.ndjson", [dict(record, method="nodded")]))
    assert bad.errors[0]["field"] == "method"


# --- the command -------------------------------------------------------------------------


def test_command_json_contract(tmp_path, capsys):
    path = ndjson_file(tmp_path / "u.ndjson", [usage_event(1)])
    call_command("ingest", "usage", str(path), "--json")
    out = json.loads(capsys.readouterr().out)
    for key in ("batch", "sha256", "accepted", "duplicates", "rejected", "errors"):
        assert key in out
    assert out["accepted"] == 1


def test_command_names_a_missing_path(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no such file"):
        call_command("ingest", "usage", str(tmp_path / "missing.ndjson"))


# --- parallel preparation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "workers, slot_bytes",
    [(0, None), (2, None), (2, 1200)],  # 1,200 bytes: some blocks fit a slot, some do not
)
def test_blocks_prepared_in_parallel_keep_file_order_and_line_numbers(
    tmp_path, settings, workers, slot_bytes
):
    tuning = IngestTuning(
        parallel_min_bytes=0,
        block_lines=3,
        slot_bytes=slot_bytes or IngestTuning.slot_bytes,
        usage_chunk_rows=5,
    )
    settings.PACTA_INGEST_WORKERS = workers
    # 20 blocks: each shared slot is used again several times.
    lines = [json.dumps(usage_event(i)) for i in range(60)]
    lines[4] = json.dumps(usage_event(4, output_tokens=-1))
    lines[13] = "{oops"
    lines[44] = json.dumps(usage_event(44, prompt="x" * 900))  # a block too large for a small slot
    path = tmp_path / "u.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = ingest("usage", path, tuning=tuning)
    assert result.accepted == 58
    assert [(e["line"], e["field"]) for e in result.errors] == [(5, "output_tokens"), (14, None)]
    stored = list(UsageEvent.objects.order_by("id").values_list("request_id", flat=True))
    assert stored == [f"req_{i:06d}" for i in range(60) if i not in (4, 13)]
    assert UsageEvent.objects.get(request_id="req_000044").prompt_excerpt.startswith("xxx")
    assert usage_batches_verify()["ok"]


def test_parallel_ingest_reports_a_truncated_gzip_after_its_valid_lines(tmp_path, settings):
    settings.PACTA_INGEST_WORKERS = 2
    data = gzip.compress(b"".join(json.dumps(usage_event(i)).encode() + b"\n" for i in range(300)))
    path = tmp_path / "u.ndjson.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    result = ingest("usage", path, tuning=IngestTuning(parallel_min_bytes=0, block_lines=10))
    assert "truncated" in result.errors[-1]["message"]
    assert 0 < result.accepted == UsageEvent.objects.count() < 300


# --- the row hash and the short path -----------------------------------------------------

# DESIGN.md's example event. Its hash is pinned: rows ingested years ago are verified with
# today's code, so the canonical form may never drift.
KNOWN_EVENT = {
    "request_id": "req_01H",
    "ts": "2026-01-05T10:00:00.123Z",
    "account_id": "acct_123",
    "api_key_id": "key_9",
    "model": "frontier-2",
    "endpoint": "/v1/chat/completions",
    "input_tokens": 412,
    "output_tokens": 890,
    "source_ip": "203.0.113.7",
    "user_agent": "python-httpx/0.27",
    "end_user": "cust-99",
    "params": {"logprobs": True, "top_logprobs": 5, "n": 1, "temperature": 0.7, "max_tokens": 4096},
    "prompt": 'Solve step by step: what is 37 * 41?\tUse "method A".',
    "status": 200,
}
KNOWN_EVENT_SHA256 = "2d79c40b6b40d13200f95ba758fbd81c355871126e16cc3a9b10380a0798905e"


def test_a_known_row_keeps_its_hash_through_every_path(tmp_path):
    from evidence.ingest.plain_usage import plain_usage_row
    from evidence.ingest.records import usage_record

    assert usage_record(KNOWN_EVENT, full_prompts=False)["row_sha256"] == KNOWN_EVENT_SHA256
    line = json.dumps(KNOWN_EVENT).encode()
    assert plain_usage_row(line, full_prompts=False)[1] == KNOWN_EVENT_SHA256
    ingest("usage", ndjson_file(tmp_path / "u.ndjson", [KNOWN_EVENT]))
    event = UsageEvent.objects.values().get()
    assert event["row_sha256"] == KNOWN_EVENT_SHA256
    assert event["prompt_template_key"] == "112ff98a6916c4064e8e3cc247ca903a"
    event["source_ip"] = str(event["source_ip"])
    assert usage_row_sha256(event) == KNOWN_EVENT_SHA256


_VARIANTS = {
    "request_id": ["", "x" * 200, "x" * 201, 5, "a\tb", "a\\b", "a\x00b", "é", "😀"],
    "ts": [
        "",
        "2026-01-05T10:00:00Z",
        "2026-01-05T10:00:00.123456Z",
        "2026-01-05T10:00:00.123+02:00",
        "2026-02-30T10:00:00.123Z",
        "2026-W01-1T00:00:00.863Z",
        "2026-01-05 10:00:00.123Z",
        "2026-01-05T10:00:00.123",
        "٢٠٢٦-01-05T10:00:00.123Z",
        17,
    ],
    "account_id": ["", "a" * 100, "a" * 101, ["x"]],
    "api_key_id": ["", "k" * 100, "k" * 101, 3, "k\nz"],
    "model": ["", "m" * 101, True],
    "endpoint": ["", "e" * 200, "e" * 201],
    "input_tokens": ["", -1, 0, 2**31 - 1, 2**31, 1.0, True, "12"],
    "source_ip": ["", "10.0.0.1", "::1", "2001:DB8::1", "::ffff:1.2.3.4", "not-ip", 4],
    "user_agent": ["", "u" * 2000, "u" * 2001, "Mozilla\t5"],
    "params": [
        "",
        {},
        [],
        "{}",
        {"a": 1e16},
        {"a": 2**53},
        {"a": {"b": [1, 2.5, None]}},
        {"a": "x\x00"},
        {"a\x00": 1},
        {"a": ["\x00"]},
    ],
    "prompt": ["", 5, "x" * 500, 'Use "A" and `b` 3.14', "a\x00b", "l1\nl2\r\t\\", "Ünï ٣٤"],
    "prompt_sha256": ["", "0" * 64],
    "status": ["", 99, 100, 599, 600, True, "200", 200.0],
}


# Lines that only exist as raw bytes (json.dumps never writes them): where two JSON
# readers can disagree, the short path must agree with the full one or step aside.
_RAW_VARIANTS = [
    # a repeated key: the last one counts, as in orjson
    b'"request_id": "first", "request_id": "req_dup"',
    # integers beyond 64 bits inside params: orjson reads them as floats
    b'"params": {"seed": 123456789012345678901234567890}',
    b'"params": {"seed": -9223372036854775809, "n": 18446744073709551616}',
    # an integer beyond 64 bits where a token count belongs
    b'"input_tokens": 123456789012345678901234567890',
    # surrogates: a lone one is not valid text, a pair is one character
    b'"prompt": "half \\ud800 a pair"',
    b'"prompt": "half \\udc00 a pair"',
    b'"prompt": "a pair \\ud83d\\ude00"',
    # a key spelled with an escape, and bytes that are not UTF-8
    b'"request\\u005fid": "req_escaped"',
    b'"end_user": "caf\xe9"',
    # params nested deeper than orjson reads
    b'"params": {"a": ' + b"[" * 1100 + b"]" * 1100 + b"}",
]


def _raw_variant_lines() -> list[bytes]:
    base = json.dumps(KNOWN_EVENT).encode()
    return [base[:-1] + b", " + extra + b"}" for extra in _RAW_VARIANTS]


def _full_path_row(line: bytes, *, full_prompts: bool):
    """What the full path (`formats._json_object`, then `usage_record`) makes of a line."""
    import orjson

    from evidence.ingest.records import RecordError, usage_record

    try:
        return usage_record(orjson.loads(line.decode("utf-8")), full_prompts=full_prompts)
    except (UnicodeDecodeError, orjson.JSONDecodeError, RecordError) as exc:
        return exc


@pytest.mark.parametrize("full_prompts", [False, True])
def test_the_short_path_stores_exactly_what_the_full_validator_stores(full_prompts):
    from evidence.ingest.plain_usage import plain_usage_row
    from evidence.ingest.usage_blocks import usage_copy_line, usage_copy_line_from_parts

    records = [KNOWN_EVENT]
    for name, values in _VARIANTS.items():
        records.append({k: v for k, v in KNOWN_EVENT.items() if k != name})
        records.extend(dict(KNOWN_EVENT, **{name: value}) for value in values)
        records.append(dict(KNOWN_EVENT, **{name: None}))
    lines = [
        json.dumps(record, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
        for record in records
        for ascii_only in (True, False)
    ]
    lines += _raw_variant_lines()
    taken = 0
    for line in lines:
        short = plain_usage_row(line, full_prompts=full_prompts)
        if short is None:
            continue  # the full validator decides (and names any error)
        taken += 1
        row = _full_path_row(line, full_prompts=full_prompts)
        if isinstance(row, Exception):
            pytest.fail(f"the short path accepted what the full one refuses: {line!r} {row}")
        parts, row_hash = short
        assert row_hash == row["row_sha256"], line
        assert parts[1] == row["ts_iso"] and parts[11] == row["params_json"]
        copy_line = usage_copy_line_from_parts(parts, "7", row_hash, escape=b"\\" in line)
        assert copy_line == usage_copy_line(row, 7), line
    assert taken > len(lines) // 3  # the comparison covered many accepted records


def test_the_short_path_reads_repeated_keys_and_huge_integers_as_the_full_one_does():
    """The raw lines where JSON readers differ: each is taken or left as the full path would."""
    from evidence.ingest.plain_usage import plain_usage_row

    taken = {
        extra: plain_usage_row(line, full_prompts=False) is not None
        for extra, line in zip(_RAW_VARIANTS, _raw_variant_lines(), strict=True)
    }
    refused = {
        extra
        for extra, line in zip(_RAW_VARIANTS, _raw_variant_lines(), strict=True)
        if isinstance(_full_path_row(line, full_prompts=False), Exception)
    }
    # Refused by the full path: never taken by the short one.
    assert not any(taken[extra] for extra in refused)
    # What the full path takes, the short one takes too (its hashes are compared above).
    assert {extra for extra, took in taken.items() if took} == set(_RAW_VARIANTS) - refused
    assert refused == {_RAW_VARIANTS[i] for i in (1, 2, 3, 4, 5, 8, 9)}


def test_a_file_changed_while_workers_read_it_is_refused_whole(tmp_path, settings):
    """Workers read their blocks from the file itself (`FileSpan`): if the bytes there are
    no longer the ones hashed, nothing is stored and the batch says why."""
    from evidence.ingest import source, usage_blocks

    settings.PACTA_INGEST_WORKERS = 2
    path = ndjson_file(tmp_path / "u.ndjson", [usage_event(i) for i in range(5000)])
    loads = source.FileSpan.load

    def load_after_a_change(span):
        if span.first > 1:  # the file is rewritten after its first block was read
            with open(span.path, "r+b") as fh:
                fh.seek(span.offset + 20)
                fh.write(b"X")
        return loads(span)

    original = usage_blocks.UsageBlockPipeline.__init__

    def in_process_pool(self, *, workers, **sizes):  # the workers' code, run where a patch reaches
        original(self, workers=0, **sizes)
        self.workers, self._in_flight, self._slots = workers, 3 * workers, 3 * workers + 1
        self._pool = _InlinePool()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(source.FileSpan, "load", load_after_a_change)
        patch.setattr(usage_blocks.UsageBlockPipeline, "__init__", in_process_pool)
        result = ingest("usage", path, tuning=IngestTuning(parallel_min_bytes=0))
    assert result.status == IngestBatch.Status.REJECTED
    assert result.accepted == 0 and not UsageEvent.objects.exists()
    assert any("the file changed while it was being read" in e["message"] for e in result.errors)


class _InlinePool:
    """`multiprocessing.Pool.apply_async`, run at once in this process."""

    class _Done:
        def __init__(self, fn, args):
            try:
                self._value, self._error = fn(*args), None
            except Exception as exc:  # delivered by get(), as a pool does
                self._value, self._error = None, exc

        def get(self):
            if self._error is not None:
                raise self._error
            return self._value

    def apply_async(self, fn, args):
        return self._Done(fn, args)

    def terminate(self):
        pass

    def join(self):
        pass


def test_a_plain_file_is_cut_into_the_same_blocks_by_buffer_as_by_line(tmp_path):
    import random

    from evidence.ingest import source

    rnd = random.Random(5)
    for case in range(600):
        # Small buffers, so many lines cross a buffer boundary, some longer than a buffer.
        buffer, limit = rnd.choice([(64, 20), (7, 20), (16, 100)])
        max_bytes = rnd.choice([1, 30, 130, 10_000])  # blocks cut by bytes or by lines
        tuning = IngestTuning(read_buffer=buffer, reject_prefix_bytes=rnd.choice([3, 200]))
        lines = []
        for _ in range(rnd.randint(0, 40)):
            length = rnd.choice([0, 1, 5, 19, 20, 21, 22, 63, 64, 65, 130, 300])
            ending = rnd.choice([b"\n", b"\r\n", b"\r\r\n"])
            lines.append(bytes(rnd.choice(b"ab{}\r") for _ in range(length)) + ending)
        data = b"".join(lines)
        if data and rnd.random() < 0.3:
            data = data.rstrip(b"\n")  # no final line break
        path = tmp_path / f"{case}.ndjson"
        path.write_bytes(data)
        results = []
        for way in ("buffer", "spans", "line"):
            raw = source.RawSource(path, max_line_bytes=limit, tuning=tuning)
            blocks = (
                raw._line_blocks_by_line(7, max_bytes)
                if way == "line"
                else raw._line_blocks_by_buffer(7, max_bytes, spans=way == "spans")
            )
            try:
                # A span is read from the file by the worker: what it loads must be the block.
                loaded = (b.load() if isinstance(b, source.FileSpan) else b for b in blocks)
                results.append(([(b.first, b.data, b.too_long) for b in loaded], None))
            except source.SourceError as exc:
                results.append(([], (exc.line, str(exc))))
            results[-1] += (raw.lines_read,)
            raw.finish()
        assert results[0] == results[1] == results[2], data
        received = data.split(b"\n")
        for _, block, too_long in results[0][0]:
            held = block.count(b"\n")
            assert held <= 7 and (len(block) <= max_bytes or held == 1)
            for number, long in too_long.items():  # measured as it streamed past
                line = received[number - 1].rstrip(b"\r")
                assert (long.length, long.sha256) == (len(line), hashlib.sha256(line).hexdigest())
