"""Integrity checks of the record: rows against their own hashes, batches against their digests.

A usage row changed behind the app's back no longer matches its `row_sha256`; a row
deleted or inserted behind its back changes its batch's digest. Both are found by reading
every row once, in batch and insertion order, with the same canonical form ingest used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from django.db import connection, transaction

from evidence.canonical import USAGE_HASHED_FIELDS, usage_row_sha256
from evidence.ingest.loaders import RowDigest
from evidence.models import IngestBatch

FETCH = 20_000


def _usage_rows() -> Iterator[tuple]:
    columns = ", ".join(USAGE_HASHED_FIELDS)
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT batch_id, id, row_sha256, {columns} FROM evidence_usageevent "
            "ORDER BY batch_id, id"
        )
        while rows := cursor.fetchmany(FETCH):
            yield from rows


def usage_batches_verify(*, max_failures: int = 100) -> dict[str, Any]:
    """Recompute every usage row's hash and every usage batch's digest.

    Returns {"ok", "rows_checked", "batches_checked", "failures": [...]}, each failure
    naming the object, its id, and the expected and found hashes.
    """
    expected = dict(
        IngestBatch.objects.filter(kind="usage", status="committed").values_list(
            "pk", "rows_digest"
        )
    )
    failures: list[dict[str, Any]] = []
    rows_checked = 0
    seen_batches: set[int] = set()
    current_batch = None
    digest = RowDigest()

    def close_batch(batch_id: int) -> None:
        seen_batches.add(batch_id)
        recorded = expected.get(batch_id)
        found = digest.hexdigest()
        if recorded != found:
            failures.append(
                {
                    "object": "ingest_batch",
                    "id": batch_id,
                    "reason": "the batch's rows no longer match its digest "
                    "(a row was added, removed or changed)",
                    "expected": recorded,
                    "found": found,
                }
            )

    names = ("batch_id", "id", "row_sha256", *USAGE_HASHED_FIELDS)
    for values in _usage_rows():
        row = dict(zip(names, values, strict=True))
        if row["batch_id"] != current_batch:
            if current_batch is not None:
                close_batch(current_batch)
            current_batch, digest = row["batch_id"], RowDigest()
        rows_checked += 1
        row["source_ip"] = str(row["source_ip"]) if row["source_ip"] is not None else None
        if isinstance(row["params"], str):  # Django reads jsonb as text
            row["params"] = orjson.loads(row["params"])
        found = usage_row_sha256(row)
        if found != row["row_sha256"] and len(failures) < max_failures:
            failures.append(
                {
                    "object": "usage_event",
                    "id": row["request_id"],
                    "reason": "the row's content no longer matches its hash",
                    "expected": row["row_sha256"],
                    "found": found,
                }
            )
        digest.add(row["row_sha256"])
    if current_batch is not None:
        close_batch(current_batch)
    for batch_id, recorded in expected.items():
        if batch_id not in seen_batches and recorded != RowDigest().hexdigest():
            failures.append(
                {
                    "object": "ingest_batch",
                    "id": batch_id,
                    "reason": "every row of the batch is missing",
                    "expected": recorded,
                    "found": RowDigest().hexdigest(),
                }
            )
    return {
        "ok": not failures,
        "rows_checked": rows_checked,
        "batches_checked": len(expected),
        "failures": failures,
    }
