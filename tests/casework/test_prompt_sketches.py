"""Prompt-family sketches between two providers: one exports the families of prompt openings
a cluster used, as keyed MinHash band keys in a STIX 2.1 bundle that carries no word of the
prompts; the partner, holding the same key, imports it and finds its accounts whose openings
are paraphrases ("seen at partner X", with the share of bands they share), and not those
asking something else. As in test_indicator_exchange, both "instances" share one record:
the partner's side is the partner registered under the same key."""

from __future__ import annotations

import datetime as dt

import pytest
import stix2
from django.test import Client
from django.urls import reverse

from casework.countermeasures.indicators import (
    IndicatorError,
    indicators_export,
    indicators_import,
    sharing_partner_add,
)
from casework.countermeasures.models import IndicatorMatch
from evidence.detectors.families import BANDS
from evidence.ingest.service import ingest_file
from evidence.models import LedgerEntry
from tests.factories import finished_cluster, ndjson_file, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
SCAFFOLD = (
    "You are an expert in law. Explain each step before answering and do not skip any "
    "intermediate result. Question {n}: what follows?"
)
# The operator rewords its scaffold on its second account (a family of two templates).
REWORDED = SCAFFOLD.replace("law", "contract law")
# At the partner: a paraphrase of the scaffold, and a customer asking something else.
PARAPHRASE = SCAFFOLD.replace("Explain", "Describe")
UNRELATED = "What can I cook with zucchini and rice for {n} people tonight?"
PROMPTS = {
    "acct_fox01": SCAFFOLD,
    "acct_fox02": REWORDED,
    "acct_para": PARAPHRASE,
    "acct_cook": UNRELATED,
}
KEY = "cd" * 32


@pytest.fixture
def cluster(tmp_path):
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(
            tmp_path / "accounts.ndjson",
            [{"account_id": a, "email": f"{a}@example.test"} for a in PROMPTS],
        ),
    )
    ingest_file(
        actor="system:test",
        kind="usage",
        path=ndjson_file(
            tmp_path / "usage.ndjson",
            [
                {
                    "request_id": f"req_{account}_{n}",
                    "ts": (T0 + dt.timedelta(minutes=n)).isoformat(),
                    "account_id": account,
                    "model": "frontier-2",
                    "input_tokens": 100,
                    "output_tokens": 200,
                    "prompt": prompt.format(n=n + 2),
                    "user_agent": "fox/1" if account.startswith("acct_fox") else "curl/8",
                }
                for account, prompt in PROMPTS.items()
                for n in range(3)
            ],
        ),
    )
    return finished_cluster("C-0011", ["acct_fox01", "acct_fox02"])


@pytest.fixture
def partners():
    return {
        "beta": sharing_partner_add(actor="system:cli", name="beta", key=KEY),
        "alpha": sharing_partner_add(actor="system:cli", name="alpha", key=KEY),
    }


def _sketches(text: str) -> list:
    bundle = stix2.parse(text)  # strict: the sketches need no custom property to be read
    return [
        o
        for o in bundle.objects
        if o.type == "indicator" and "x-pacta-prompt-sketch:band_hmac_sha256" in o.pattern
    ]


def test_the_cluster_prompt_family_leaves_as_keyed_band_keys_without_its_words(
    cluster, partners, tmp_path
):
    out = tmp_path / "c11.json"
    exchange = indicators_export(
        actor="system:cli", cluster=cluster, partner=partners["beta"], out=out
    )
    text = out.read_text()
    sketches = _sketches(text)
    # The scaffold and its rewording are near-duplicates: one family, one indicator.
    assert len(sketches) == 1
    assert exchange.counts["prompt_family"] == 1
    pattern = sketches[0].pattern
    assert f"key_id = '{partners['beta'].key_id}'" in pattern
    # Two openings, BANDS band keys each, some shared: at most 2 x BANDS hashes.
    assert BANDS < pattern.count("'") // 2 - 2 <= 2 * BANDS
    for word in ("expert", "explain", "intermediate", "question", "contract", "law"):
        assert word not in text.lower()
    entry = LedgerEntry.objects.get(object_type="indicator_exchange", action="exported")
    assert entry.details["counts"]["prompt_family"] == 1


def test_the_partner_finds_the_paraphrase_and_not_the_unrelated_prompts(
    cluster, partners, tmp_path
):
    out = tmp_path / "c11.json"
    indicators_export(actor="system:cli", cluster=cluster, partner=partners["beta"], out=out)
    exchange = indicators_import(actor="system:cli", path=out, partner=partners["alpha"])
    found = dict(
        IndicatorMatch.objects.filter(exchange=exchange, kind="prompt_family").values_list(
            "account__account_id", "value"
        )
    )
    assert set(found) == {"acct_fox01", "acct_fox02", "acct_para"}
    # The operator's own openings are in the sketch: every band matches.
    assert found["acct_fox01"] == found["acct_fox02"] == f"{BANDS}/{BANDS} bands"
    shared = int(found["acct_para"].split("/")[0])
    assert 1 <= shared < BANDS
    assert exchange.counts["prompt_family"] == 1
    history = LedgerEntry.objects.get(object_type="account", object_id="acct_para", action="linked")
    assert history.details["seen_at_partner"] == "alpha"
    assert history.details["kinds"] == ["prompt_family"]


def test_a_sketch_made_with_other_parameters_is_refused_by_scheme(cluster, partners, tmp_path):
    out = tmp_path / "c11.json"
    indicators_export(actor="system:cli", cluster=cluster, partner=partners["beta"], out=out)
    other = tmp_path / "other.json"
    other.write_text(out.read_text().replace("-b12x4-", "-b20x5-"))
    with pytest.raises(IndicatorError, match=r"other\.json: indicator .* scheme 'minhash-"):
        indicators_import(actor="system:cli", path=other, partner=partners["alpha"])
    assert not IndicatorMatch.objects.exists()


def test_the_account_and_cluster_pages_say_where_else_an_account_was_seen(
    cluster, partners, tmp_path
):
    out = tmp_path / "c11.json"
    indicators_export(actor="system:cli", cluster=cluster, partner=partners["beta"], out=out)
    indicators_import(actor="system:cli", path=out, partner=partners["alpha"])
    shared = IndicatorMatch.objects.get(account__account_id="acct_para", kind="prompt_family")
    browser = Client()
    browser.force_login(user_with_role("ivan", "investigator"))
    page = browser.get(reverse("account_detail", args=["acct_para"])).content.decode()
    assert "Seen at partners" in page and "seen at alpha" in page
    assert "Prompt family (keyed band keys)" in page and shared.value in page
    cook = browser.get(reverse("account_detail", args=["acct_cook"])).content.decode()
    assert "seen at alpha" not in cook and "No partner's indicators have matched" in cook
    page = browser.get(reverse("cluster_detail", args=[cluster.pk])).content.decode()
    assert (
        page.count("seen at alpha")
        == IndicatorMatch.objects.filter(
            account__account_id__in=["acct_fox01", "acct_fox02"]
        ).count()
    )
    reviewer = Client()
    reviewer.force_login(user_with_role("rita", "external reviewer"))
    assert reviewer.get(reverse("account_detail", args=["acct_para"])).status_code == 404
