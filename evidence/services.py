"""Writes on the record side; each act on evidence is ledgered in the same transaction."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import BinaryIO

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from evidence.custody import events
from evidence.custody.canonical import file_sha256
from evidence.custody.ledger import Actor, LedgerVerification, actor_label, ledger_verify
from evidence.models import EvidenceItem


class _FileOnDisk(File):
    """A file already on disk that storage may move rather than copy (Django's file-system
    storage renames anything with a `temporary_file_path`; other storages read it)."""

    def __init__(self, path: Path) -> None:
        super().__init__(None, name=str(path))
        self.path = path

    def temporary_file_path(self) -> str:
        return str(self.path)

    def open(self, mode="rb"):
        self.file = self.path.open(mode)
        return self

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def evidence_item_store(
    *,
    actor: Actor,
    stream: BinaryIO,
    file_name: str,
    kind: str,
    source: str,
    description: str = "",
) -> EvidenceItem:
    """Keep a file as evidence: hash its bytes as received, store it, record the collection.

    The hash is taken while copying, from the same bytes that are stored, so the recorded
    SHA-256 is of exactly what was kept (not of a file that might be replaced later).
    """
    if kind not in EvidenceItem.Kind.values:
        raise ValueError(f"unknown evidence kind {kind!r}")
    with tempfile.NamedTemporaryFile(prefix="pacta-evidence-", delete=False) as spool:
        sha256, size = file_sha256(stream, copy_to=spool)
        spool_path = Path(spool.name)
    try:
        return _item_record(
            actor=actor, path=spool_path, sha256=sha256, size=size,
            file_name=file_name, kind=kind, source=source, description=description,
        )  # fmt: skip
    finally:
        spool_path.unlink(missing_ok=True)


def evidence_item_keep(
    *,
    actor: Actor,
    path: Path,
    file_name: str,
    kind: str,
    source: str,
    description: str = "",
) -> EvidenceItem:
    """Keep as evidence a file this process wrote itself (a report and its exhibits).

    The file is hashed where it lies, then moved into storage, not copied: the same bytes
    (the same inode, on one file system) that were hashed are the bytes kept, and a report
    of hundreds of megabytes is not written twice more. The caller must not touch the
    file again; it is gone from `path` on return.
    """
    if kind not in EvidenceItem.Kind.values:
        raise ValueError(f"unknown evidence kind {kind!r}")
    with path.open("rb") as fh:
        sha256, size = file_sha256(fh)
    return _item_record(
        actor=actor, path=path, sha256=sha256, size=size, file_name=file_name,
        kind=kind, source=source, description=description,
    )  # fmt: skip


def _item_record(
    *, actor: Actor, path: Path, sha256: str, size: int, file_name: str, kind: str,
    source: str, description: str,
) -> EvidenceItem:  # fmt: skip
    """Move a hashed file into storage and record its collection, in one transaction."""
    label, _ = actor_label(actor)
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        item = EvidenceItem(
            kind=kind,
            file_name=Path(file_name).name,
            sha256=sha256,
            size=size,
            source=source,
            description=description,
            collector=user,
            collector_label=label,
            collected_at=timezone.now(),
        )
        item.file.save(f"{sha256[:16]}-{item.file_name}", _FileOnDisk(path), save=False)
        try:
            item.save()
            events.evidence_item_collected(actor=actor, item=item)
        except BaseException:
            item.file.delete(save=False)  # no orphan file for a row that never existed
            raise
    return item


def ledger_check(*, actor: Actor) -> LedgerVerification:
    """Verify the chain and write the outcome to it, so the record shows it was checked.

    The entry is appended after the chain was read; it certifies the chain up to the head
    it names, and the next verification covers the entry itself. Durable: the check
    happened, so no caller's rollback may take its record away.
    """
    result = ledger_verify()
    with transaction.atomic(durable=True):
        events.ledger_checked(actor=actor, result=result)
    return result
