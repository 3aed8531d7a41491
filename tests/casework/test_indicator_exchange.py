"""Indicator exchange as two providers use it: one exports a cluster's indicators for a
partner as a STIX 2.1 bundle that the `stix2` parser accepts, with no email, card or
request detail readable in it; the partner, holding the same sharing key, imports it and
finds its own accounts that share them ("seen at partner X"); under any other key it
matches nothing and says so. Each exchange is ledgered with whom and what."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import stix2
from django.core.management import call_command
from django.core.management.base import CommandError

from casework.countermeasures.indicators import (
    IndicatorError,
    indicators_export,
    indicators_import,
    sharing_partner_add,
)
from casework.countermeasures.models import IndicatorExchange, IndicatorMatch, SharingPartner
from casework.countermeasures.selectors import account_partner_matches
from evidence.ingest.service import ingest_file
from evidence.models import LedgerEntry
from tests.factories import finished_cluster, ndjson_file, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
AGENT = "fox-harvester/9.1 (operator=blue-finch)"
# The operator's two accounts (the cluster); at "the partner" a third account reuses its
# card, a fourth its email (in other letters' case), a fifth sends from its network; a
# sixth shares nothing.
ACCOUNTS = [
    {"account_id": "acct_fox01", "email": "ops@bluefinch.test", "payment_fingerprint": "fp_fox"},
    {"account_id": "acct_fox02", "email": "ops2@bluefinch.test", "payment_fingerprint": "fp_fox"},
    {"account_id": "acct_card", "email": "x@other.test", "payment_fingerprint": "fp_fox"},
    {"account_id": "acct_mail", "email": "OPS@BlueFinch.test", "payment_fingerprint": "fp_m"},
    {"account_id": "acct_net", "email": "n@net.test", "payment_fingerprint": "fp_n"},
    {"account_id": "acct_clean", "email": "c@clean.test", "payment_fingerprint": "fp_c"},
]
SOURCES = {
    "acct_fox01": "203.0.113.7",
    "acct_fox02": "203.0.113.9",
    "acct_card": "198.51.100.1",
    "acct_mail": "198.51.100.2",
    "acct_net": "203.0.113.200",
    "acct_clean": "192.0.2.5",
}


@pytest.fixture
def cluster(tmp_path):
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(tmp_path / "accounts.ndjson", ACCOUNTS),
    )
    ingest_file(
        actor="system:test",
        kind="usage",
        path=ndjson_file(
            tmp_path / "usage.ndjson",
            [
                {
                    "request_id": f"req_{n}",
                    "ts": (T0 + dt.timedelta(minutes=n)).isoformat(),
                    "account_id": account,
                    "model": "frontier-2",
                    "endpoint": "/v1/chat/completions",
                    "input_tokens": 100,
                    "output_tokens": 200,
                    "source_ip": SOURCES[account],
                    "user_agent": AGENT if account.startswith("acct_fox") else "curl/8",
                    "params": {"logprobs": True, "top_logprobs": 5},
                }
                for n, account in enumerate(list(SOURCES) * 2)
            ],
        ),
    )
    return finished_cluster("C-0007", ["acct_fox01", "acct_fox02"])


KEY = "ab" * 32


@pytest.fixture
def partners():
    """Our side knows the partner as "beta"; the partner knows us as "alpha"; both hold
    the key agreed between them. "gamma" holds a key of its own."""
    return {
        "beta": sharing_partner_add(actor="system:cli", name="beta", key=KEY),
        "alpha": sharing_partner_add(actor="system:cli", name="alpha", key=KEY),
        "gamma": sharing_partner_add(actor="system:cli", name="gamma"),
    }


def test_the_bundle_is_valid_stix_marked_tlp_and_reveals_no_identifier(cluster, partners, tmp_path):
    out = tmp_path / "c7.json"
    exchange = indicators_export(
        actor="system:cli", cluster=cluster, partner=partners["beta"], out=out, tlp="amber"
    )
    text = out.read_text()
    bundle = stix2.parse(text)  # strict: no custom properties needed to read it
    indicators = [o for o in bundle.objects if o.type == "indicator"]
    assert indicators
    assert all(o.object_marking_refs == [stix2.TLP_AMBER.id] for o in indicators)
    patterns = " ".join(o.pattern for o in indicators)
    assert "[ipv4-addr:value = '203.0.113.0/24']" in patterns
    assert patterns.count("x-pacta-email:hmac_sha256") == 2
    assert patterns.count("x-pacta-payment-method:hmac_sha256") == 1
    assert "x-pacta-request-shape:hmac_sha256" in patterns
    for secret in ("bluefinch", "ops@", "fp_fox", "fox-harvester", "blue-finch", KEY):
        assert secret not in text.lower()
    assert exchange.counts == {
        "address_range": 1,
        "email": 2,
        "payment": 1,
        "request_shape": 1,
        "prompt_family": 0,  # these requests carry no prompt
    }
    entry = LedgerEntry.objects.get(object_type="indicator_exchange", action="exported")
    assert entry.details["partner"] == "beta"
    assert entry.details["cluster"] == "C-0007"
    assert entry.details["tlp"] == "amber"
    assert entry.object_sha256 == exchange.bundle_sha256
    assert KEY not in json.dumps(entry.details)


def test_the_partner_holding_the_key_finds_the_overlap(cluster, partners, tmp_path):
    out = tmp_path / "c7.json"
    indicators_export(actor="system:cli", cluster=cluster, partner=partners["beta"], out=out)
    exchange = indicators_import(actor="system:cli", path=out, partner=partners["alpha"])
    seen = {}
    for account_id, kind in IndicatorMatch.objects.filter(exchange=exchange).values_list(
        "account__account_id", "kind"
    ):
        seen.setdefault(account_id, set()).add(kind)
    # The operator's own accounts match too: here both "instances" share one record.
    assert seen["acct_card"] == {"payment"}
    assert seen["acct_mail"] == {"email"}
    assert seen["acct_net"] == {"address_range"}
    assert "acct_clean" not in seen
    assert seen["acct_fox01"] >= {"email", "payment", "address_range", "request_shape"}
    entry = LedgerEntry.objects.get(object_type="indicator_exchange", action="imported")
    assert entry.details["partner"] == "alpha"
    assert entry.details["counts"]["matches"] == IndicatorMatch.objects.count()
    history = LedgerEntry.objects.get(object_type="account", object_id="acct_card", action="linked")
    assert history.details["seen_at_partner"] == "alpha"
    assert history.details["kinds"] == ["payment"]


def test_a_bundle_made_for_another_partner_is_refused_by_key_id(cluster, partners, tmp_path):
    out = tmp_path / "c7.json"
    indicators_export(actor="system:cli", cluster=cluster, partner=partners["beta"], out=out)
    with pytest.raises(
        IndicatorError, match=f"key agreed with gamma has id {partners['gamma'].key_id}"
    ):
        indicators_import(actor="system:cli", path=out, partner=partners["gamma"])
    assert not IndicatorExchange.objects.filter(direction="import").exists()


def test_a_file_that_is_not_stix_is_named(partners, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "bundle", "id": "nonsense"}')
    with pytest.raises(IndicatorError, match=r"bad\.json: not a valid STIX 2\.1 bundle"):
        indicators_import(actor="system:cli", path=bad, partner=partners["alpha"])


def test_the_commands_export_and_import_between_two_partners(cluster, tmp_path):
    key_file = tmp_path / "beta.key"
    call_command("sharing_partner", "beta", "--key-to", str(key_file))
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    call_command("sharing_partner", "alpha", "--key-from", str(key_file))
    assert SharingPartner.objects.get(name="alpha").key_id == (
        SharingPartner.objects.get(name="beta").key_id
    )
    out = tmp_path / "bundle.json"
    call_command(
        "export_indicators", "C-0007", "--partner", "beta", "--out", str(out), "--tlp", "red"
    )
    assert all(
        o.object_marking_refs == [stix2.TLP_RED.id]
        for o in stix2.parse(out.read_text()).objects
        if o.type == "indicator"
    )
    call_command("import_indicators", str(out), "--partner", "alpha")
    assert IndicatorMatch.objects.filter(account__account_id="acct_card").exists()
    with pytest.raises(CommandError, match="CLUSTER_ID C-9999: no such cluster"):
        call_command("export_indicators", "C-9999", "--partner", "beta", "--out", str(out))
    with pytest.raises(CommandError, match="--partner 'nobody'"):
        call_command("import_indicators", str(out), "--partner", "nobody")


def test_a_partner_key_is_256_bits_of_hex(db):
    with pytest.raises(IndicatorError, match="64 hexadecimal digits"):
        sharing_partner_add(actor="system:cli", name="delta", key="not-a-key")
    partner = sharing_partner_add(actor="system:cli", name="delta")
    assert len(partner.sharing_key) == 64
    entry = LedgerEntry.objects.get(object_type="sharing_partner")
    assert entry.details == {"key_id": partner.key_id}


def test_matches_are_read_by_the_records_readers_only(cluster, partners, tmp_path):

    out = tmp_path / "c7.json"
    indicators_export(actor="system:cli", cluster=cluster, partner=partners["beta"], out=out)
    indicators_import(actor="system:cli", path=out, partner=partners["alpha"])
    investigator = user_with_role("ivan", "investigator")
    reviewer = user_with_role("rita", "external reviewer")
    seen = account_partner_matches(user=investigator, account_ids=["acct_card"])
    assert [(m.exchange.partner.name, m.kind) for m in seen] == [("alpha", "payment")]
    assert not account_partner_matches(user=reviewer, account_ids=["acct_card"]).exists()
