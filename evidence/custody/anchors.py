"""What the ledger recorded for each piece of evidence at the moment it was recorded.

Verification compares every stored digest with these values, not only with the value kept
beside the row: a row edited together with its own hash and its batch's digest still
disagrees with the entry written when it came in, and that entry cannot change without
breaking the chain (which `ledger_verify` names). Each reader returns the first entry of
its kind per object, by object id.
"""

from __future__ import annotations

from dataclasses import dataclass

from evidence.models import LedgerEntry

Action = LedgerEntry.Action


@dataclass(frozen=True)
class BatchAnchor:
    """An "ingested" entry: the batch's status, row count and digest as recorded."""

    seq: int
    kind: str
    status: str
    accepted: int
    rows_digest: str
    # Profile versions an accounts batch recorded; None in entries written before
    # versions were kept (their digests cannot be rebuilt from the versions stored).
    account_versions: int | None


@dataclass(frozen=True)
class TermsAnchor:
    """An "imported" entry: the version's text hash, its clause count and clause digest
    (None in entries written before the digest was recorded)."""

    seq: int
    text_sha256: str
    clauses: int
    clauses_digest: str | None


@dataclass(frozen=True)
class FileAnchor:
    """A "collected" entry: the SHA-256 and size of the bytes kept."""

    seq: int
    sha256: str
    size: int | None


def _entries(action: str, object_type: str, *keys: str):
    return (
        LedgerEntry.objects.filter(action=action, object_type=object_type)
        .order_by("seq")
        .values_list("seq", "object_id", "object_sha256", *(f"details__{k}" for k in keys))
        .iterator(chunk_size=5000)
    )


def _object_pk(object_id: str) -> int | None:
    return int(object_id) if object_id.isdigit() else None


def batches_ingested() -> dict[int, BatchAnchor]:
    anchors: dict[int, BatchAnchor] = {}
    keys = ("kind", "status", "accepted", "rows_digest", "account_versions")
    for seq, object_id, _, kind, status, accepted, digest, versions in _entries(
        Action.INGESTED, "ingest_batch", *keys
    ):
        pk = _object_pk(object_id)
        if pk is not None and pk not in anchors:
            anchors[pk] = BatchAnchor(
                seq=seq,
                kind=kind,
                status=status,
                accepted=accepted or 0,
                rows_digest=digest or "",
                account_versions=versions,
            )
    return anchors


def terms_imported() -> dict[int, TermsAnchor]:
    anchors: dict[int, TermsAnchor] = {}
    for seq, object_id, sha256, clauses, digest in _entries(
        Action.IMPORTED, "terms_version", "clauses", "clauses_digest"
    ):
        pk = _object_pk(object_id)
        if pk is not None and pk not in anchors:
            anchors[pk] = TermsAnchor(
                seq=seq, text_sha256=sha256, clauses=clauses or 0, clauses_digest=digest
            )
    return anchors


def files_collected() -> dict[int, FileAnchor]:
    anchors: dict[int, FileAnchor] = {}
    for seq, object_id, sha256, size in _entries(Action.COLLECTED, "evidence_item", "size"):
        pk = _object_pk(object_id)
        if pk is not None and pk not in anchors:
            anchors[pk] = FileAnchor(seq=seq, sha256=sha256, size=size)
    return anchors


def files_deleted() -> set[int]:
    """Files whose deletion is on record (`evidence_item_delete`): gone, and rightly."""
    return {
        pk
        for _, object_id, _ in _entries(Action.PURGED, "evidence_item")
        if (pk := _object_pk(object_id)) is not None
    }
