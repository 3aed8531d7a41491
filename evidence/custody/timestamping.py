"""Trusted timestamps (RFC 3161) over the ledger head.

A hash chain proves the record has not changed since it was written, but not *when* it
was written: someone who controls the database could rebuild the whole chain. A token
from an independent timestamp authority over the head hash fixes the chain in time, so
any later rewrite shows as a head that no longer matches its token. Optional: configured
with PACTA_TSA_URL, and run daily by Celery beat.
"""

from __future__ import annotations

import asyncio

from asn1crypto import cms, tsp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from evidence.custody import events
from evidence.custody.canonical import sha256_hex
from evidence.custody.ledger import ledger_head
from evidence.models import LedgerEntry, TrustedTimestamp


class TimestampError(Exception):
    """The authority did not grant a usable token; the message says why."""


def _tst_info(token: cms.ContentInfo) -> tsp.TSTInfo:
    return token["content"]["encap_content_info"]["content"].parsed


def ledger_timestamp(*, stamper=None) -> TrustedTimestamp | None:
    """Timestamp the current ledger head; None when no authority is configured.

    `stamper` is a pyHanko TimeStamper; by default an HTTP client for PACTA_TSA_URL.
    """
    url = settings.PACTA_TSA_URL
    if stamper is None:
        if not url:
            return None
        from pyhanko.sign.timestamps import HTTPTimeStamper

        stamper = HTTPTimeStamper(url, timeout=settings.PACTA_TSA_TIMEOUT)
    seq, head_hash = ledger_head()
    if seq == 0:
        return None
    requested_at = timezone.now()
    try:
        token = asyncio.run(stamper.async_timestamp(bytes.fromhex(head_hash), "sha256"))
    except Exception as exc:
        raise TimestampError(f"the timestamp authority {url or stamper} refused: {exc}") from exc
    info = _tst_info(token)
    imprint = info["message_imprint"]["hashed_message"].native
    if imprint != bytes.fromhex(head_hash):
        raise TimestampError("the authority's token is for a different hash than the one sent")
    token_bytes = token.dump()
    with transaction.atomic():
        stamp = TrustedTimestamp.objects.create(
            ledger_seq=seq,
            ledger_hash=head_hash,
            authority_url=url or "in-process",
            token=token_bytes,
            token_sha256=sha256_hex(token_bytes),
            authority_time=info["gen_time"].native,
            requested_at=requested_at,
        )
        events.ledger_timestamped(stamp=stamp)
    return stamp


def timestamps_verify(failures) -> dict[str, int]:
    """Each token still matches the ledger entry it timestamped (a rebuilt chain would not)."""
    count = 0
    hashes = {}
    stamps = list(TrustedTimestamp.objects.order_by("pk"))
    if stamps:
        hashes = dict(
            LedgerEntry.objects.filter(seq__in=[s.ledger_seq for s in stamps]).values_list(
                "seq", "entry_hash"
            )
        )
    for stamp in stamps:
        count += 1
        token = cms.ContentInfo.load(bytes(stamp.token))
        imprint = _tst_info(token)["message_imprint"]["hashed_message"].native.hex()
        current = hashes.get(stamp.ledger_seq)
        if imprint != stamp.ledger_hash or current != stamp.ledger_hash:
            failures.add(
                "trusted_timestamp",
                stamp.pk,
                f"ledger entry {stamp.ledger_seq} no longer matches the hash the authority "
                f"timestamped at {stamp.authority_time:%Y-%m-%d %H:%M} UTC",
                imprint,
                current,
            )
    return {"trusted_timestamps": count}
