"""Production jobs: a production asked for from the UI or the API, built by a worker.

`production_job_request` records the job (and its ledger entry) and, with `enqueue`, sends
the Celery task once the transaction commits; `production_job_run` builds it with
`production_build` into a work folder, packs the folder into one zip under MEDIA_ROOT
(`productions/`) and marks the job done with the zip's SHA-256. The zip holds one folder,
the production as `build_production` writes it, so `verify_production` checks it once
unzipped. A build holds a PostgreSQL advisory lock on the job (as report builds do), so a
task delivered twice builds once; a job a dead worker left behind is found again by
`production_jobs_recover`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import zipfile
from contextlib import suppress
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from casework.models import Case, ProductionJob
from casework.production.build import ProductionError, production_build, production_options_check
from casework.reports.jobs import (
    ReportError,
    ReportTransientError,
    build_in_progress,
    build_lock,
)
from casework.reports.pipeline import build_workdir
from casework.reports.signing import SigningError
from evidence.custody import events
from evidence.custody.ledger import Actor

# pg_advisory_lock(key1, key2): key1 names production builds ("PCPD"), key2 the job.
PRODUCTION_LOCK_KEY = 0x50435044 & 0x7FFFFFFF
# The Celery task that builds a job (`casework.tasks.production_build_task`), named once here.
PRODUCTION_BUILD_TASK = "casework.tasks.production_build_task"
ZIP_FOLDER = "productions"
CHUNK = 4 * 1024 * 1024
# Courts cap a file at 8 to 50 MB; a job's limit fits the column that keeps it.
MAX_FILE_MB_CEILING = 10_000

logger = logging.getLogger(__name__)


def production_job_request(
    *,
    actor: Actor,
    case: Case,
    edition: str,
    page_size: str = ProductionJob.PageSize.LETTER,
    max_file_mb: float = 35,
    enqueue: bool = False,
) -> ProductionJob:
    """A production of the case as it stands, in `edition`: a job queued for a worker.

    The same request while one is queued or running answers that job: pressing the button
    twice builds one production.
    """
    page_size = str(page_size).lower()
    try:
        max_file_mb = round(float(max_file_mb), 1)
    except (TypeError, ValueError):
        raise ProductionError(
            f"the per-file limit must be a number of megabytes, not {max_file_mb!r}",
            field="max_file_mb",
        ) from None
    if not 0 < max_file_mb <= MAX_FILE_MB_CEILING:
        raise ProductionError(
            f"the per-file limit must be from 0.1 to {MAX_FILE_MB_CEILING:,} MB, "
            f"not {max_file_mb:g}",
            field="max_file_mb",
        )
    production_options_check(
        actor=actor, case=case, edition=edition, max_file_mb=max_file_mb, page_size=page_size
    )
    with transaction.atomic():
        pending = (
            ProductionJob.objects.select_for_update()
            .filter(
                case=case,
                edition=edition,
                page_size=page_size,
                max_file_mb=max_file_mb,
                status__in=(ProductionJob.Status.QUEUED, ProductionJob.Status.RUNNING),
            )
            .first()
        )
        if pending is not None:
            return pending
        job = ProductionJob.objects.create(
            case=case,
            edition=edition,
            page_size=page_size,
            max_file_mb=max_file_mb,
            requested_by=actor if getattr(actor, "is_authenticated", False) else case.opened_by,
        )
        events.production_job_requested(actor=actor, job=job)
        if enqueue:
            # Sent by name: the task module imports this one, not the other way round.
            transaction.on_commit(
                lambda: current_app.send_task(PRODUCTION_BUILD_TASK, args=[job.pk])
            )
    return job


def production_job_run(*, job: ProductionJob) -> ProductionJob:
    """Build the job's production unless it is built, failed or being built; return the job.

    A permanent failure (the case no longer verifies, the requester lost access, signing is
    not configured) marks the job failed with its reason; a transient one (the database,
    the timestamp authority) puts it back in the queue and raises `ReportTransientError`.
    """
    with build_lock(job.pk, key=PRODUCTION_LOCK_KEY) as acquired:
        job = ProductionJob.objects.select_related("case", "requested_by").get(pk=job.pk)
        if not acquired or job.status in (ProductionJob.Status.DONE, ProductionJob.Status.FAILED):
            return job
        ProductionJob.objects.filter(pk=job.pk).update(
            status=ProductionJob.Status.RUNNING, started_at=timezone.now(), failure_reason=""
        )
        workdir = Path(tempfile.mkdtemp(prefix=f"pacta-production-{job.pk}-", dir=build_workdir()))
        try:
            _run(job, workdir)
        except (OperationalError, InterfaceError, ReportTransientError) as exc:
            with suppress(OperationalError, InterfaceError):
                ProductionJob.objects.filter(pk=job.pk, status=ProductionJob.Status.RUNNING).update(
                    status=ProductionJob.Status.QUEUED,
                    stage=f"waiting to retry: {exc}"[:100],
                    percent=0,
                )
            raise ReportTransientError(str(exc)) from exc
        except Exception as exc:
            logger.exception("production job %s failed", job.pk)
            production_job_fail(job_id=job.pk, reason=_reason(exc))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return ProductionJob.objects.get(pk=job.pk)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ProductionError | ReportError | SigningError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _progress(job: ProductionJob, stage: str, percent: int) -> None:
    """Written at once (autocommit), so the page polling the job sees it; the build's own
    stages fill 0-90%, packing the zip the rest."""
    ProductionJob.objects.filter(pk=job.pk).update(stage=stage[:100], percent=min(percent, 100))


def _run(job: ProductionJob, workdir: Path) -> None:
    stem = f"{job.case.reference}-{job.edition}-production-{job.pk}"
    stem = "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)
    production = production_build(
        actor=job.requested_by,
        case=job.case,
        out_dir=workdir / stem,
        edition=job.edition,
        max_file_mb=float(job.max_file_mb),
        page_size=job.page_size,
        progress=lambda stage, percent: _progress(job, stage, percent * 9 // 10),
    )
    _progress(job, "Packing the production into one zip", 92)
    target_dir = Path(settings.MEDIA_ROOT) / ZIP_FOLDER
    target_dir.mkdir(parents=True, exist_ok=True)
    partial = target_dir / f".{stem}.zip.part"
    target = target_dir / f"{stem}.zip"
    try:
        sha256, size = production_zip_write(folder=production.folder, target=partial)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        locked = ProductionJob.objects.select_for_update().get(pk=job.pk)
        locked.status = ProductionJob.Status.DONE
        locked.stage, locked.percent = "Done", 100
        locked.finished_at = timezone.now()
        locked.zip_path = f"{ZIP_FOLDER}/{target.name}"
        locked.zip_sha256, locked.zip_size = sha256, size
        locked.manifest_sha256 = production.manifest_sha256
        locked.failure_reason = ""
        locked.save()


def production_zip_write(*, folder: Path, target: Path) -> tuple[str, int]:
    """Pack the production `folder` into the zip `target` (its files under one folder of
    the same name) and return the zip's SHA-256 and size.

    The natives are already as compact as their volumes allow and the filing PDFs are
    compressed, so the files are stored, not deflated again: packing is a copy, read and
    written in chunks, and the zip is hashed as it is read back once.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for path in files:
            name = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            archive.write(path, name)
    digest = hashlib.sha256()
    with target.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest(), target.stat().st_size


def production_job_fail(*, job_id: int, reason: str) -> None:
    """Mark a job failed with its reason (never a finished one)."""
    with transaction.atomic():
        job = ProductionJob.objects.select_for_update().select_related("case").get(pk=job_id)
        if job.status == ProductionJob.Status.DONE:
            return
        job.status = ProductionJob.Status.FAILED
        job.failure_reason = reason
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "failure_reason", "finished_at"])
        events.production_job_failed(job=job, reason=reason)


def production_jobs_recover() -> list[int]:
    """Jobs left queued or running with no live build (a worker killed mid-production)."""
    pending = ProductionJob.objects.filter(
        status__in=(ProductionJob.Status.QUEUED, ProductionJob.Status.RUNNING)
    ).values_list("pk", flat=True)
    return [pk for pk in pending if not build_in_progress(pk, key=PRODUCTION_LOCK_KEY)]


def production_job_exported(*, actor: Actor, job: ProductionJob, file: dict | None = None) -> None:
    """Record a download of the production's zip, or of one `file` of it (its manifest
    entry), in the case's access audit."""
    with transaction.atomic(durable=True):
        events.production_exported(actor=actor, job=job, file=file)
