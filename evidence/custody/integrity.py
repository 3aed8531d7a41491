"""Integrity checks of the record: every row, file and text against the hash it was given.

Each check recomputes hashes with the same canonical forms that were used when the record
was made (`evidence.custody.canonical`) and returns the failures it found, each naming the
object, its id, the reason, and the expected and found hashes. `verification` runs them
all and records the outcome.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterator
from typing import Any

import orjson
from django.db import connection, transaction

from evidence.custody.canonical import (
    ACCOUNT_HASHED,
    ASSENT_HASHED,
    RowDigest,
    content_sha256,
    file_sha256,
    params_canonical,
    sha256_hex,
    text_sha256,
    usage_row_canonical_text,
)
from evidence.models import (
    Account,
    AssentRecord,
    Clause,
    EvidenceItem,
    IngestBatch,
    TermsVersion,
)

FETCH = 20_000
EMPTY_DIGEST = RowDigest().hexdigest()


class Failures:
    """Failures of one check, capped in detail but always counted."""

    def __init__(self, cap: int = 100) -> None:
        self.cap = cap
        self.items: list[dict[str, Any]] = []
        self.total = 0

    def add(self, obj: str, obj_id: Any, reason: str, expected: Any, found: Any) -> None:
        self.total += 1
        if len(self.items) < self.cap:
            self.items.append(
                {
                    "object": obj,
                    "id": obj_id,
                    "reason": reason,
                    "expected": expected,
                    "found": found,
                }
            )


def _stream(sql: str) -> Iterator[tuple]:
    """Rows of `sql` through a server-side cursor: a million rows never sit in memory."""
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH):
            yield from rows


# Every hashed column as the text the canonical form uses; timestamps rendered exactly as
# `canonical.utc_iso` renders them, so PostgreSQL does the formatting.
_USAGE_SQL = """
SELECT id, batch_id, row_sha256, request_id,
       to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       account_id, api_key_id, model, endpoint, input_tokens::text, output_tokens::text,
       host(source_ip), user_agent, end_user, params::text, prompt_sha256,
       prompt_template_key, prompt_excerpt, prompt_text, status::text
FROM evidence_usageevent ORDER BY id
"""
_PURGED_SQL = "SELECT id, batch_id, row_sha256 FROM evidence_purgedusagerow ORDER BY id"


def usage_verify(failures: Failures) -> dict[str, int]:
    """Every usage row against its own hash; every usage batch against its digest.

    Rows are read in id order (insertion order), so each batch's digest is rebuilt as it
    was written even when batches interleave. Rows purged under retention contribute the
    hashes they left behind.
    """
    expected = dict(
        IngestBatch.objects.filter(kind="usage", status="committed").values_list(
            "pk", "rows_digest"
        )
    )
    digests: dict[int, RowDigest] = {}
    live = _stream(_USAGE_SQL)
    purged = (
        (row_id, batch_id, row_hash, None) for row_id, batch_id, row_hash in _stream(_PURGED_SQL)
    )
    rows = 0
    for values in heapq.merge(live, purged, key=lambda row: row[0]):
        batch_id, row_hash = values[1], values[2]
        digest = digests.get(batch_id)
        if digest is None:
            digest = digests[batch_id] = RowDigest()
        digest.add(row_hash)
        if values[3] is None:
            continue  # a purged row: only its hash remains
        rows += 1
        parts = [v if v is not None else "" for v in values[3:]]
        ip = parts[8]
        if ":" in ip:  # IPv6: the form ingest stored (Python's) may differ from host()
            parts[8] = str(ipaddress.ip_address(ip))
        parts[11] = params_canonical(orjson.loads(parts[11]))
        found = sha256_hex(usage_row_canonical_text(parts))
        if found != row_hash:
            failures.add(
                "usage_event",
                parts[0],
                "the row's content no longer matches its hash",
                row_hash,
                found,
            )
    for batch_id in sorted(set(expected) | set(digests)):
        recorded = expected.get(batch_id)
        found = digests[batch_id].hexdigest() if batch_id in digests else EMPTY_DIGEST
        if recorded is None:
            failures.add(
                "ingest_batch",
                batch_id,
                "rows belong to a batch that is not on record",
                None,
                found,
            )
        elif recorded != found:
            failures.add(
                "ingest_batch",
                batch_id,
                "the batch's rows no longer match its digest (a row was added, removed or changed)",
                recorded,
                found,
            )
    orphans = _stream(
        "SELECT u.request_id FROM evidence_usageevent u "
        "LEFT JOIN evidence_account a ON a.account_id = u.account_id WHERE a.id IS NULL LIMIT 100"
    )
    for (request_id,) in orphans:
        failures.add("usage_event", request_id, "the row's account is missing", None, None)
    return {"usage_rows": rows, "usage_batches": len(expected)}


def assent_verify(failures: Failures) -> dict[str, int]:
    """Every assent record against its content hash, and assent batches against their digests."""
    expected = dict(
        IngestBatch.objects.filter(kind="assent", status="committed").values_list(
            "pk", "rows_digest"
        )
    )
    digests: dict[int, RowDigest] = {}
    count = 0
    fields = [name for name in ASSENT_HASHED if name != "account_id"]
    rows = (
        AssentRecord.objects.order_by("id")
        .values_list("id", "batch_id", "content_sha256", "account__account_id", *fields)
        .iterator(chunk_size=FETCH)
    )
    for row_id, batch_id, recorded, account_id, *values in rows:
        count += 1
        row = dict(zip(fields, values, strict=True), account_id=account_id)
        row["ip"] = str(row["ip"]) if row["ip"] is not None else None
        found = content_sha256(row, ASSENT_HASHED)
        if found != recorded:
            failures.add(
                "assent_record", row_id, "the record no longer matches its hash", recorded, found
            )
        if batch_id is not None:
            digests.setdefault(batch_id, RowDigest()).add(recorded)
    for batch_id, recorded in expected.items():
        found = digests[batch_id].hexdigest() if batch_id in digests else EMPTY_DIGEST
        if recorded != found:
            failures.add(
                "ingest_batch",
                batch_id,
                "the batch's assent records no longer match its digest",
                recorded,
                found,
            )
    return {"assent_records": count}


def accounts_verify(failures: Failures) -> dict[str, int]:
    """Every account profile against its content hash (stubs carry no profile to check).

    Profiles change legitimately (a card replaced, an account suspended) and each change is
    in the ledger with the previous hash, so accounts are checked row by row rather than
    against the digest of the batch that first brought them.
    """
    fields = [name for name in ACCOUNT_HASHED if name != "account_id"]
    count = 0
    rows = (
        Account.objects.filter(seen_only_in_usage=False)
        .order_by("id")
        .values_list("account_id", "content_sha256", *fields)
        .iterator(chunk_size=FETCH)
    )
    for account_id, recorded, *values in rows:
        count += 1
        row = dict(zip(fields, values, strict=True), account_id=account_id)
        row["signup_ip"] = str(row["signup_ip"]) if row["signup_ip"] is not None else None
        found = content_sha256(row, ACCOUNT_HASHED)
        if found != recorded:
            failures.add(
                "account", account_id, "the profile no longer matches its hash", recorded, found
            )
    return {"accounts": count}


def terms_verify(failures: Failures) -> dict[str, int]:
    """Every Terms version's text and every clause's text against their hashes."""
    versions = clauses = 0
    for pk, text, recorded in TermsVersion.objects.values_list("pk", "text", "text_sha256"):
        versions += 1
        found = text_sha256(text)
        if found != recorded:
            failures.add(
                "terms_version", pk, "the text no longer matches its hash", recorded, found
            )
    rows = Clause.objects.values_list("pk", "text", "text_sha256").iterator(chunk_size=FETCH)
    for pk, text, recorded in rows:
        clauses += 1
        found = text_sha256(text)
        if found != recorded:
            failures.add(
                "clause", pk, "the clause text no longer matches its hash", recorded, found
            )
    return {"terms_versions": versions, "clauses": clauses}


def files_verify(failures: Failures) -> dict[str, int]:
    """Every evidence file's bytes (rejects, exhibits, report PDFs) against its SHA-256."""
    count = 0
    for item in EvidenceItem.objects.order_by("pk").iterator(chunk_size=1000):
        count += 1
        try:
            with item.file.open("rb") as stored:
                found = file_sha256(stored)[0]
        except FileNotFoundError:
            failures.add("evidence_item", item.pk, "the file is missing", item.sha256, None)
            continue
        if found != item.sha256:
            failures.add(
                "evidence_item",
                item.pk,
                f"the file {item.file_name} no longer matches its hash",
                item.sha256,
                found,
            )
    return {"evidence_files": count}


def usage_batches_verify() -> dict[str, Any]:
    """The usage check on its own: {"ok", "rows_checked", "batches_checked", "failures"}."""
    failures = Failures()
    counts = usage_verify(failures)
    return {
        "ok": not failures.total,
        "rows_checked": counts["usage_rows"],
        "batches_checked": counts["usage_batches"],
        "failures": failures.items,
    }
