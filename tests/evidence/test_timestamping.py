"""Trusted timestamps fix the ledger in time: a rebuilt chain no longer matches its token."""

from __future__ import annotations

import pytest
from django.db import connection

from evidence.custody.canonical import GENESIS_HASH, ledger_entry_hash
from evidence.custody.ledger import ledger_append, ledger_head
from evidence.custody.timestamping import ledger_timestamp
from evidence.custody.verification import evidence_verify
from evidence.models import LedgerEntry, TrustedTimestamp
from tests.pki import build_pki
from tests.tsa import timestamp_authority

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture(scope="module")
def pki():
    return build_pki()


def _entries(n: int) -> None:
    for i in range(n):
        ledger_append(actor="system:test", action="collected", object_type="x", object_id=i)


def test_off_unless_an_authority_is_configured(settings):
    settings.PACTA_TSA_URL = ""
    _entries(1)
    assert ledger_timestamp() is None
    assert TrustedTimestamp.objects.count() == 0


def test_the_ledger_head_is_timestamped_by_the_authority_over_http(settings, pki):
    _entries(3)
    seq, head = ledger_head()
    with timestamp_authority(pki) as (url, answered):
        settings.PACTA_TSA_URL = url
        stamp = ledger_timestamp()
    assert len(answered) == 1
    assert answered[0]["message_imprint"]["hashed_message"].native == bytes.fromhex(head)
    assert (stamp.ledger_seq, stamp.ledger_hash) == (seq, head)
    assert stamp.authority_url == url
    entry = LedgerEntry.objects.get(action="timestamped")
    assert entry.object_sha256 == head
    assert entry.details["token_sha256"] == stamp.token_sha256
    assert evidence_verify(actor="system:test").ok


def test_a_chain_rebuilt_after_the_timestamp_is_caught(settings, pki):
    _entries(3)
    with timestamp_authority(pki) as (url, _):
        settings.PACTA_TSA_URL = url
        stamp = ledger_timestamp()
    # An insider rewrites entry 2 and recomputes every later hash, so the chain itself
    # verifies again; only the authority's token still remembers the old head.
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_refuse_update_delete ON evidence_ledgerentry")
    prev = GENESIS_HASH
    for entry in LedgerEntry.objects.order_by("seq"):
        if entry.seq == 2:
            entry.actor = "mallory"
        fields = {
            "seq": entry.seq,
            "recorded_at": entry.recorded_at,
            "actor": entry.actor,
            "actor_user_id": entry.actor_user_id,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "object_sha256": entry.object_sha256,
            "details": entry.details,
            "prev_hash": prev,
        }
        entry.prev_hash, entry.entry_hash = prev, ledger_entry_hash(**fields)
        entry.save()
        prev = entry.entry_hash
    run = evidence_verify(actor="system:test")
    assert not run.ok
    assert [(f["object"], f["id"]) for f in run.failures] == [("trusted_timestamp", stamp.pk)]
