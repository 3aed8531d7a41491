"""Probe transcripts of a rival model: ingested like every other record, and read for claims
that the rival is the provider's model."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from rest_framework.test import APIClient

from evidence.custody.verification import record_check
from evidence.ingest.service import ingest_file
from evidence.models import IngestBatch, LedgerEntry, ProbeExchange
from tests.factories import api_token, bearer_client, ndjson_bytes, ndjson_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def probe(n: int, *, target="rival-chat", response="Hello! How can I help?", **fields) -> dict:
    record = {
        "probe_id": f"p-{target}-{n:03d}",
        "target": target,
        "target_version": "2026-05",
        "endpoint": "https://api.rival.example/v1/chat",
        "collected_at": "2026-06-01T10:00:00Z",
        "prompt": f"Who are you? ({n})",
        "response": response,
        "collector": "investigator@provider.example",
        "tool": "pacta-probe",
        "tool_version": "0.3",
    }
    record.update(fields)
    return record


def ingest(path, **kwargs):
    return ingest_file(actor="system:test", kind="probes", path=path, **kwargs)


# --- import -----------------------------------------------------------------------------


def test_probe_file_is_stored_whole_with_its_hashes_batch_and_ledger_entry(tmp_path):
    capture = hashlib.sha256(b"the HAR file").hexdigest()
    path = ndjson_file(
        tmp_path / "probes.ndjson", [probe(1, raw_sha256=capture), probe(2, control=True)]
    )
    result = ingest(path)
    assert (result.accepted, result.duplicates, result.rejected) == (2, 0, 0)
    exchange = ProbeExchange.objects.get(probe_id="p-rival-chat-001")
    assert exchange.response == "Hello! How can I help?"
    assert exchange.prompt_sha256 == hashlib.sha256(b"Who are you? (1)").hexdigest()
    assert exchange.raw_sha256 == capture
    assert exchange.collector == "investigator@provider.example"
    assert ProbeExchange.objects.get(probe_id="p-rival-chat-002").control is True
    batch = IngestBatch.objects.get(pk=result.batch)
    assert (batch.kind, batch.raw_sha256) == (
        "probes",
        hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    entry = LedgerEntry.objects.get(object_type="ingest_batch", object_id=str(batch.pk))
    assert entry.details["kind"] == "probes"
    assert entry.details["rows_digest"] == batch.rows_digest
    check = record_check()
    assert check.ok, check.failures.items
    assert check.checked["probe_exchanges"] == 2


def test_bad_probe_lines_are_named_and_the_good_ones_kept(tmp_path):
    lines = [
        probe(1),
        probe(2, collected_at="2026-06-01T10:00:00"),  # no zone
        {k: v for k, v in probe(3).items() if k != "response"},
        probe(4, raw_sha256="not-a-hash"),
        probe(5, colour="blue"),
        probe(6, control="perhaps"),
    ]
    result = ingest(ndjson_file(tmp_path / "p.ndjson", lines))
    assert result.accepted == 1
    named = {(e["line"], e["field"]) for e in result.errors}
    assert named == {
        (2, "collected_at"),
        (3, "response"),
        (4, "raw_sha256"),
        (5, "colour"),
        (6, "control"),
    }
    assert list(ProbeExchange.objects.values_list("probe_id", flat=True)) == ["p-rival-chat-001"]


def test_strict_mode_leaves_nothing_of_a_file_with_one_bad_line(tmp_path):
    lines = [probe(1), probe(2, prompt="")]
    result = ingest(ndjson_file(tmp_path / "p.ndjson", lines), strict=True)
    assert result.refused
    assert not ProbeExchange.objects.exists()
    assert result.errors[0]["field"] == "prompt"


def test_the_same_file_again_adds_nothing_and_a_changed_exchange_under_its_id_is_refused(
    tmp_path,
):
    ingest(ndjson_file(tmp_path / "a.ndjson", [probe(1), probe(2)]))
    again = ingest(ndjson_file(tmp_path / "b.ndjson", [probe(1), probe(2, response="Other.")]))
    assert (again.accepted, again.duplicates) == (0, 1)
    assert again.errors == [
        {
            "line": 2,
            "field": "probe_id",
            "message": "probe p-rival-chat-002 is already on record with a different exchange; "
            "give the new capture its own probe id",
        }
    ]
    assert ProbeExchange.objects.get(probe_id="p-rival-chat-002").response != "Other."


def test_a_stored_transcript_cannot_be_edited(tmp_path):
    ingest(ndjson_file(tmp_path / "a.ndjson", [probe(1)]))
    with pytest.raises(DatabaseError, match="probe transcripts"), transaction.atomic():
        ProbeExchange.objects.update(response="I am somebody else.")


def test_command_and_api_ingest_probes(tmp_path, counsel_user, capsys):
    path = ndjson_file(tmp_path / "p.ndjson", [probe(1)])
    call_command("ingest", "probes", str(path), "--json")
    assert json.loads(capsys.readouterr().out)["accepted"] == 1
    client: APIClient = bearer_client(api_token(counsel_user, "ingest", days=1, name="t")[1])
    answer = client.post(
        "/api/v1/ingest/probes/",
        data=ndjson_bytes([probe(2), probe(3, target="")]),
        content_type="application/x-ndjson",
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["kind"], body["accepted"], body["rejected"]) == ("probes", 1, 1)
    assert body["errors"][0]["line"] == 2 and body["errors"][0]["field"] == "target"
