"""Probe transcripts of a rival model: ingested like every other record, and read for claims
that the rival is the provider's model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from rest_framework.test import APIClient

from evidence.custody.verification import record_check
from evidence.ingest.service import ingest_file
from evidence.models import IngestBatch, LedgerEntry, ProbeExchange
from evidence.probes import claims
from evidence.probes.claims import (
    claim_patterns,
    identity_claim,
    probe_claims_measure,
    response_normalised,
)
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


# --- identity claims --------------------------------------------------------------------

NAMES = ["Claude", "Anthropic"]

CLAIMS = [
    "I am Claude, an AI assistant.",
    "Hi! I'm Claude. How can I help?",
    "I'm an AI assistant developed by Anthropic to be helpful.",
    "I was created and trained by Anthropic.",
    "Sure. Anthropic built me to answer questions like this one.",
    "Bonjour ! Je suis Claude, un assistant conversationnel.",
    "J\u2019ai été entraîné par Anthropic.",
    "Soy un modelo de lenguaje de Anthropic.",
    "Hola, soy Claude.",
    "Ich wurde von Anthropic entwickelt.",
    "我是Claude\uff0c由Anthropic开发的AI助手。",  # full-width comma
    "我是由Anthropic开发的。",
    "Я — Claude, ассистент.",
    "私はClaudeです。",
    "Sono stato addestrato da Anthropic.",
    "I'm \uff23\uff4c\uff41\uff55\uff44\uff45.",  # full-width letters
]
NOT_CLAIMS = [
    "I am an AI assistant made by Rival Labs.",
    "I am not Claude; I was built by Rival Labs.",
    "I was not trained by Anthropic.",
    "Unlike Claude from Anthropic, I am RivalBot.",
    "Claude is a model made by Anthropic, but I am RivalBot.",
    "我不是Claude\uff0c我是RivalBot。",
    "No soy Claude.",
    "Je ne suis pas Claude.",
    "I am Claudette, your guide.",
    "My favourite painter is Claude Monet.",
]


@pytest.mark.parametrize("text", CLAIMS)
def test_claims_in_several_languages_and_wordings_are_found(text):
    patterns = claim_patterns(NAMES)
    assert identity_claim(response_normalised(text), patterns) is not None, text


@pytest.mark.parametrize("text", NOT_CLAIMS)
def test_denials_third_person_mentions_and_other_names_are_not_claims(text):
    patterns = claim_patterns(NAMES)
    assert identity_claim(response_normalised(text), patterns) is None, text


def test_the_names_come_from_configuration_not_from_the_patterns():
    text = response_normalised("I am Gemini, a model trained by Google.")
    assert identity_claim(text, claim_patterns(NAMES)) is None
    assert identity_claim(text, claim_patterns(["Gemini", "Google"])) is not None


def test_rates_intervals_control_comparison_and_quoted_exhibits(tmp_path):
    rival = [
        probe(1, response="I'm Claude, made by Anthropic."),
        probe(2, response="Je suis Claude."),
        probe(3, response="我是由Anthropic开发的AI助手。"),
        probe(4, response="I am RivalBot."),
    ]
    # The control is asked the same prompts (and one the rival was not asked).
    control = [
        probe(n, target="other-vendor", control=True, response="I am OtherBot, by Other Inc.")
        for n in (1, 2, 3, 4, 5)
    ]
    ingest(ndjson_file(tmp_path / "p.ndjson", rival + control))
    result = probe_claims_measure(names=NAMES)
    suspect, baseline = result["targets"]
    assert (suspect["target"], suspect["n"], suspect["claims"]) == ("rival-chat", 4, 3)
    assert suspect["rate"] == 0.75
    low, high = suspect["interval_95"]
    assert 0.2 < low < 0.75 < high < 1
    assert [e["probe_id"] for e in suspect["exhibits"]] == [
        "p-rival-chat-001",
        "p-rival-chat-002",
        "p-rival-chat-003",
    ]
    assert suspect["exhibits"][1] == {
        "probe_id": "p-rival-chat-002",
        "collected_at": "2026-06-01T10:00:00+00:00",
        "language": "fr",
        "quote": "Je suis Claude.",
    }
    comparison = suspect["comparison"]
    assert comparison["control_targets"] == ["other-vendor"]
    assert (comparison["prompts_shared"], comparison["n"], comparison["claims"]) == (4, 4, 0)
    assert comparison["rate"] == 0.0
    assert comparison["interval_95"][0] == 0.0
    # 3 of 4 against 0 of 4: all 3 claims falling on the target, C(4,3) / C(8,3).
    assert comparison["fisher_p_greater"] == pytest.approx(4 / 56)
    assert (baseline["control"], baseline["n"], baseline["claims"]) == (True, 5, 0)
    assert baseline["exhibits"] == [] and baseline["comparison"] is None
    assert (
        result["patterns_sha256"]
        == hashlib.sha256(
            (Path(claims.__file__).with_name("claim_patterns.json")).read_bytes()
        ).hexdigest()
    )


def test_probe_claims_command_prints_each_target_and_refuses_without_names(
    tmp_path, settings, capsys
):
    ingest(
        ndjson_file(
            tmp_path / "p.ndjson",
            [
                probe(1, response="Soy un modelo de Anthropic."),
                probe(1, target="other-vendor", control=True, response="Soy OtherBot."),
            ],
        )
    )
    settings.PACTA_PROVIDER_NAMES = ["Claude", "Anthropic"]
    call_command("probe_claims")
    text = capsys.readouterr().out
    assert "rival-chat: 1 of 1 responses claim the identity (100.0%" in text
    assert "other-vendor (control): 0 of 1" in text
    assert "p-rival-chat-001 [es] Soy un modelo de Anthropic." in text
    call_command("probe_claims", "--json", "--names", "OtherBot")
    document = json.loads(capsys.readouterr().out)
    assert [(t["target"], t["claims"]) for t in document["targets"]] == [
        ("rival-chat", 0),
        ("other-vendor", 1),
    ]
    settings.PACTA_PROVIDER_NAMES = []
    with pytest.raises(CommandError, match="--names: no provider names"):
        call_command("probe_claims")
