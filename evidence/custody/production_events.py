"""Ledger events of productions (issue #19): a production built, queued, failed, exported
(downloaded, whole or file by file) and its zip removed past its retention.

Kept beside `events` (which re-exports them, so services still call `events.<act>`) only to
keep each module a size a reader holds; one function per act, one definition of its payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evidence.custody.canonical import utc_iso
from evidence.custody.ledger import Actor, SystemActor, ledger_append
from evidence.models import LedgerEntry

Action = LedgerEntry.Action


def production_built(
    *,
    actor: Actor,
    case: Any,
    edition: str,
    manifest_sha256: str,
    files: int,
    snapshot_sha256: str,
    ledger_certified: Any,
    filing_volumes: int,
    signature: Any,
) -> LedgerEntry:
    """A production (filing copy, natives, load file) was written for the case. Its
    manifest lists every file's SHA-256 and is signed; the entry anchors the manifest's
    own SHA-256, so a production handed over can be matched to the record."""
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="production",
        object_id=case.reference,
        object_sha256=manifest_sha256,
        details={
            "case": case.reference,
            "edition": edition,
            "manifest_sha256": manifest_sha256,
            "files": files,
            "filing_volumes": filing_volumes,
            "snapshot_sha256": snapshot_sha256,
            "ledger_certified": ledger_certified,
            "signature": signature,
        },
    )


def production_job_requested(*, actor: Actor, job: Any) -> LedgerEntry:
    """A production of the case was asked for from the UI or the API."""
    return ledger_append(
        actor=actor,
        action=Action.CREATED,
        object_type="production_job",
        object_id=job.pk,
        details={
            "case": job.case.reference,
            "edition": job.edition,
            "page_size": job.page_size,
            "max_file_mb": str(job.max_file_mb),
        },
    )


def production_job_failed(*, job: Any, reason: str) -> LedgerEntry:
    return ledger_append(
        actor=SystemActor.REPORTS,
        action=Action.CHANGED,
        object_type="production_job",
        object_id=job.pk,
        details={"case": job.case.reference, "status": "failed", "reason": reason[:500]},
    )


def production_exported(
    *, actor: Actor, job: Any, file: Mapping[str, Any] | None = None
) -> LedgerEntry:
    """A production's zip, or one `file` of it (its manifest entry: path, SHA-256), was
    downloaded (the case's access audit): the natives inside are the record's own files,
    handed over."""
    return ledger_append(
        actor=actor,
        action=Action.EXPORTED,
        object_type="production_job",
        object_id=job.pk,
        object_sha256=file["sha256"] if file else job.zip_sha256,
        details={
            "case": job.case.reference,
            "edition": job.edition,
            "file_name": file["path"] if file else job.zip_name,
            **({"in_production": job.zip_name} if file else {}),
            "manifest_sha256": job.manifest_sha256,
        },
    )


def production_zip_removed(*, job: Any, retention_days: int) -> LedgerEntry:
    """A production's zip was removed past its retention; the job keeps the manifest (what
    was produced, file by file, with SHA-256), and this entry the zip's own SHA-256."""
    return ledger_append(
        actor=SystemActor.RETENTION,
        action=Action.PURGED,
        object_type="production_job",
        object_id=job.pk,
        object_sha256=job.zip_sha256,
        details={
            "case": job.case.reference,
            "edition": job.edition,
            "file_name": job.zip_name,
            "size": job.zip_size,
            "finished_at": utc_iso(job.finished_at),
            "retention_days": retention_days,
            "manifest_sha256": job.manifest_sha256,
            "files": len(job.manifest.get("files", [])),
        },
    )
