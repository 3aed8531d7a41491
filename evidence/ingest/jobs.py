"""Ingests asked for from the UI or the API that a Celery worker carries out
(`evidence.tasks.ingest_job_task`), so a large file does not hold a web request open and the
person who sent it can watch it go.

The upload is kept as received under MEDIA_ROOT/ingest-uploads/ until the worker has
ingested it (the worker may be another machine sharing the media folder); the ingest is
`ingest_file`, exactly as `manage.py ingest` and the synchronous upload do it, ledgered
under the name of the person who sent the file. The job records how far it has read
(bytes of the total, lines, lines rejected) and, at the end, the batch and the ingest's
result document; a refused or failed file leaves no rows and the job names why.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from evidence.access import RECORD_WRITER_ROLES, record_reader, record_writer
from evidence.ingest.service import ingest_file, ingest_kind_check
from evidence.models import IngestJob
from evidence.progress import INGEST_LOCK_KEY, ProgressRecorder, work_lock, work_recover

INGEST_JOB_TASK = "evidence.tasks.ingest_job_task"
UPLOAD_FOLDER = "ingest-uploads"

logger = logging.getLogger(__name__)


def ingest_job_request(
    *,
    actor,
    kind: str,
    fmt: str,
    strict: bool,
    source: str,
    file_name: str,
    received: Path,
) -> IngestJob:
    """Keep the file at `received` (moved, not copied) for a worker and queue its ingest.

    Refused before anything is kept: a user who may not add to the record, an unknown
    kind or format (`IngestUsageError`). The caller deletes `received` if this raises.
    """
    if not record_writer(actor):
        raise PermissionDenied(
            "your role may not add to the record: ingest is for the "
            f"{', '.join(RECORD_WRITER_ROLES)} roles"
        )
    ingest_kind_check(kind=kind, fmt=fmt)
    folder = Path(settings.MEDIA_ROOT) / UPLOAD_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    # The stored name is ours, never the client's: the client's name is only recorded.
    kept = f"{UPLOAD_FOLDER}/{uuid.uuid4().hex}.upload"
    target = Path(settings.MEDIA_ROOT) / kept
    shutil.move(str(received), target)
    now = timezone.now()
    try:
        with transaction.atomic():
            job = IngestJob.objects.create(
                kind=kind,
                format=fmt,
                strict=strict,
                source=source,
                file_name=file_name,
                upload=kept,
                bytes_total=target.stat().st_size,
                requested_by=actor,
                requested_at=now,
                step="waiting for a worker",
                updated_at=now,
            )
            transaction.on_commit(
                lambda: current_app.send_task(INGEST_JOB_TASK, kwargs={"job_id": job.pk})
            )
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return job


def ingest_job_carry_out(*, job_id: int, every_seconds: float | None = None) -> IngestJob:
    """Ingest the job's file (the worker's side). Safe to run twice: only the first call
    finds the job queued; a later one returns the job as it stands."""
    with work_lock(INGEST_LOCK_KEY, job_id) as mine:
        if mine:
            return _carry_out(job_id=job_id, every_seconds=every_seconds)
    return IngestJob.objects.get(pk=job_id)  # another live worker has it


def _carry_out(*, job_id: int, every_seconds: float | None) -> IngestJob:
    taken = IngestJob.objects.filter(pk=job_id, status=IngestJob.Status.QUEUED).update(
        status=IngestJob.Status.RUNNING, started_at=timezone.now(), step="reading the file"
    )
    job = IngestJob.objects.select_related("requested_by").get(pk=job_id)
    if not taken:
        return job
    kwargs = {} if every_seconds is None else {"every_seconds": every_seconds}
    recorder = ProgressRecorder(IngestJob, job.pk, **kwargs)

    def progress(bytes_read: int, lines_read: int, lines_rejected: int) -> None:
        recorder(bytes_read=bytes_read, lines_read=lines_read, lines_rejected=lines_rejected)

    path = Path(settings.MEDIA_ROOT) / job.upload
    done = {"upload": "", "finished_at": None, "updated_at": None}
    try:
        result = ingest_file(
            actor=job.requested_by,
            kind=job.kind,
            path=path,
            fmt=job.format,
            strict=job.strict,
            source=job.source,
            file_name=job.file_name,
            progress=progress,
        )
    except Exception as exc:  # the job says why; the log keeps the traceback
        logger.exception("ingest job %s failed", job.pk)
        done.update(
            status=IngestJob.Status.FAILED,
            step="failed",
            failure_reason=f"The ingest failed and nothing from the file was stored: "
            f"{type(exc).__name__}: {exc}"[:5000],
        )
    else:
        read = result.accepted + result.duplicates + result.rejected
        done.update(
            status=IngestJob.Status.FAILED if result.refused else IngestJob.Status.FINISHED,
            step="refused" if result.refused else "finished",
            failure_reason=result.refusal_reason() if result.refused else "",
            batch_id=result.batch,
            result=result.as_dict(),
            bytes_read=result.size,
            lines_read=max(read, recorder.latest.get("lines_read", 0)),
            lines_rejected=result.rejected,
        )
    finally:
        recorder.close()
        path.unlink(missing_ok=True)
        now = timezone.now()
        done.update(finished_at=now, updated_at=now)
        if "status" not in done:  # interrupted (the worker stopping): said, never left running
            done.update(status=IngestJob.Status.FAILED, step="failed", failure_reason="stopped")
        IngestJob.objects.filter(pk=job.pk).update(**done)
    job.refresh_from_db()
    return job


def ingest_jobs_recover() -> list[int]:
    """Jobs whose worker stopped mid-ingest go back to the queue (their file is still kept);
    every queued job's id, for a starting worker to send again."""
    return work_recover(
        IngestJob,
        key=INGEST_LOCK_KEY,
        queued=IngestJob.Status.QUEUED,
        running=IngestJob.Status.RUNNING,
        step="waiting for a worker (the one ingesting it stopped)",
        bytes_read=0,
        lines_read=0,
        lines_rejected=0,
    )


def ingest_job_list(*, user):
    """The ingest jobs a user may watch, newest first: every job for a record reader (the
    batches they become are the shared record's provenance), none for anyone else."""
    if not record_reader(user):
        return IngestJob.objects.none()
    return IngestJob.objects.select_related("requested_by", "batch")


def ingest_job_get(*, user, pk: int) -> IngestJob | None:
    return ingest_job_list(user=user).filter(pk=pk).first()
