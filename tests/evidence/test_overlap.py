"""Output overlap: a rival's answers to prompts the provider answered, measured against the
text the provider served for those prompts (the canaries the gateway logged), and against
control targets asked the same prompts."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from evidence.ingest.service import ingest_file
from evidence.models import Account
from evidence.probes.canaries import canaries_generate
from evidence.probes.overlap import probe_overlap_measure, word_ngrams
from tests.factories import ndjson_file, usage_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

ASKED = "Tell me a local custom worth knowing."
UNLOGGED = "Name a river and its source."
NEVER_ASKED = "What is the tallest tree in the world?"


def ingest(kind, tmp_path, rows, name):
    return ingest_file(actor="system:test", kind=kind, path=ndjson_file(tmp_path / name, rows))


def probe(n, prompt, response, *, target="rival-chat", **fields):
    return {
        "probe_id": f"p-{target}-{n}",
        "target": target,
        "collected_at": "2026-07-01T09:00:00Z",
        "prompt": prompt,
        "response": response,
        "collector": "investigator",
        **fields,
    }


@pytest.fixture
def served(tmp_path):
    """acct_1 asked ASKED twice and UNLOGGED once; one canary went out in the first answer."""
    ingest(
        "usage",
        tmp_path,
        [
            usage_event(1, account_id="acct_1", prompt=ASKED),
            usage_event(2, account_id="acct_1", prompt=ASKED),
            usage_event(3, account_id="acct_1", prompt=UNLOGGED),
        ],
        "usage.ndjson",
    )
    account = Account.objects.get(account_id="acct_1")
    canary = canaries_generate(actor="system:test", count=1, accounts=[account], seed=3).canaries[0]
    ingest(
        "serves",
        tmp_path,
        [
            {
                "canary_id": canary.canary_id,
                "request_id": "req_000001",
                "account_id": "acct_1",
                "served_at": "2026-06-02T08:15:00Z",
            }
        ],
        "serves.ndjson",
    )
    return canary


def test_word_ngrams_read_words_whatever_their_case_and_punctuation():
    assert word_ngrams("One two, THREE four five six seven eight!") == {
        ("one", "two", "three", "four", "five", "six", "seven", "eight")
    }
    assert word_ngrams("too short to hold eight words") == set()


def test_rival_responses_reusing_served_text_overlap_and_control_responses_do_not(served, tmp_path):
    echoed = f"A custom worth knowing: {served.text.upper()} People still do it."
    ingest(
        "probes",
        tmp_path,
        [
            probe(1, ASKED, echoed),
            probe(2, ASKED, "Many towns ring a bell at noon; it is a custom worth knowing about."),
            probe(3, UNLOGGED, "The Nile rises in the highlands of East Africa, far south."),
            probe(4, NEVER_ASKED, "Coast redwoods are the tallest trees on record today."),
            probe(5, ASKED, "Towns often keep old customs alive.", target="other", control=True),
            probe(6, ASKED, "Bells at noon are common in Europe.", target="other", control=True),
        ],
        "probes.ndjson",
    )
    result = probe_overlap_measure()
    assert result["provider_responses_held"] is False
    assert "holds no text of the provider's responses" in result["method"]["provider_text"]
    assert (result["prompts_probed"], result["prompts_answered"]) == (3, 2)
    assert result["prompts_with_served_text"] == 1
    rival, control = result["targets"]
    assert (rival["target"], rival["control"]) == ("rival-chat", False)
    # Four probes: three on prompts the provider answered, two of those measurable.
    assert (rival["probes"], rival["answered"], rival["measured"]) == (4, 3, 2)
    assert rival["overlapping"] == 1 and rival["rate"] == 0.5
    (exhibit,) = rival["exhibits"]
    assert exhibit["probe_id"] == "p-rival-chat-1"
    assert exhibit["canary_ids"] == [served.canary_id]
    canary_runs = len(word_ngrams(served.text))
    assert exhibit["shared_ngrams"] == canary_runs
    assert exhibit["containment"] == round(canary_runs / len(word_ngrams(echoed)), 6)
    assert exhibit["requests_answering"] == 2
    assert (control["target"], control["measured"], control["overlapping"]) == ("other", 2, 0)
    comparison = rival["comparison"]
    assert comparison["control_targets"] == ["other"]
    assert (comparison["measured"], comparison["overlapping"]) == (2, 0)
    assert 0 < comparison["fisher_p_greater"] <= 1
    # The result copies no transcript text: the transcripts themselves are the exhibits.
    assert served.text.upper() not in json.dumps(result)
    assert ASKED not in json.dumps(result)


def test_probe_overlap_command_states_method_and_what_the_record_holds(served, tmp_path, capsys):
    ingest(
        "probes",
        tmp_path,
        [probe(1, ASKED, f"Sure. {served.text}"), probe(2, UNLOGGED, "No idea, sorry.")],
        "probes.ndjson",
    )
    call_command("probe_overlap")
    text = capsys.readouterr().out
    assert "2 prompts probed, 2 answered by the provider, 1 with served text on record." in text
    assert "rival-chat: 2 of 2 probes on answered prompts, 1 measured, 1 overlapping" in text
    assert "p-rival-chat-1: " in text and served.canary_id in text
    assert "Method: Word 8-gram containment" in text
    call_command("probe_overlap", "--json")
    document = json.loads(capsys.readouterr().out)
    assert document["targets"][0]["exhibits"][0]["probe_id"] == "p-rival-chat-1"


def test_without_probes_the_command_says_so(capsys):
    call_command("probe_overlap")
    assert "no probe transcripts on record" in capsys.readouterr().out
