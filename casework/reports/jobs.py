"""Report jobs: request one for a case's current snapshot, and keep its bookkeeping.

`ReportJob` is the source of truth. A request freezes the case (`snapshot.case_snapshot`),
keeps that snapshot (`CaseSnapshot`, compressed canonical JSON) and finds or creates the
job for it and the edition; the unique constraint on (case, edition, snapshot_sha256)
means the same snapshot never gets two jobs, and the build reads the kept snapshot, never
the live record. A build holds a PostgreSQL advisory lock on the job for its whole run
(released by the server if the worker dies, even by SIGKILL); a job left queued or running
with no live build is found again by `report_jobs_recover`.
"""

from __future__ import annotations

import zlib
from contextlib import suppress

from celery import current_app
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from casework.models import Case, CaseSnapshot, ReportEdition, ReportJob
from casework.reports.snapshot import Snapshot, case_snapshot, snapshot_from_bytes
from evidence.custody import events
from evidence.custody.ledger import Actor
from evidence.progress import work_lock

# pg_advisory_lock(key1, key2): key1 names report builds ("PCRP"), key2 the job.
BUILD_LOCK_KEY = 0x50435250 & 0x7FFFFFFF
# The Celery task that builds a job (`casework.tasks.report_build_task`), named once here.
REPORT_BUILD_TASK = "casework.tasks.report_build_task"
SNAPSHOT_COMPRESSION = 6


class ReportError(RuntimeError):
    """A report cannot be requested or built as asked; the message says why."""


class ReportTransientError(ReportError):
    """A failure worth retrying (the database or the timestamp authority was unreachable)."""


def _requester(actor: Actor, case: Case):
    """The user a job is recorded against: the actor, or the case's owner for a system
    process (the ledger still names the process)."""
    if getattr(actor, "is_authenticated", False):
        return actor
    return case.opened_by


def report_job_request(
    *, actor: Actor, case: Case, edition: str, snapshot: Snapshot | None = None,
    enqueue: bool = False, draft: ReportJob | None = None,
) -> ReportJob:  # fmt: skip
    """The draft job for the case's current snapshot in `edition`: the existing one if any;
    with `draft`, the final job built from that draft's snapshot and edition (the caller,
    `review.report_final_request`, checked its approvals).

    A failed job for the same snapshot is queued again (the constraint allows one job per
    snapshot, and a failure is not a report). With `enqueue`, the Celery task is sent once
    the transaction commits.
    """
    if edition not in ReportEdition.values:
        raise ReportError(f"unknown edition {edition!r}: use {', '.join(ReportEdition.values)}")
    if draft is None:
        snapshot = snapshot or case_snapshot(case=case)
        sha256 = snapshot.sha256
    elif draft.final or draft.case_id != case.pk or draft.edition != edition:
        raise ReportError(f"report job {draft.pk} is not a draft of this case in {edition}")
    else:
        sha256 = draft.snapshot_sha256
    with transaction.atomic():
        if draft is None:
            # What the request froze is kept, so the build reads it rather than the record.
            case_snapshot_keep(case=case, snapshot=snapshot)
        job, created = ReportJob.objects.select_for_update().get_or_create(
            case=case,
            edition=edition,
            snapshot_sha256=sha256,
            final=draft is not None,
            defaults={"requested_by": _requester(actor, case), "draft": draft},
        )
        requeued = False
        if not created and job.status == ReportJob.Status.FAILED:
            job.status, job.stage, job.percent = ReportJob.Status.QUEUED, "", 0
            job.failure_reason, job.started_at, job.finished_at = "", None, None
            job.save(
                update_fields=[
                    "status", "stage", "percent", "failure_reason", "started_at", "finished_at"
                ]
            )  # fmt: skip
            requeued = True
        if created or requeued:
            events.report_job_requested(actor=actor, job=job, requeued=requeued)
        if enqueue and job.status in (ReportJob.Status.QUEUED, ReportJob.Status.RUNNING):
            # Sent by name: the task module imports this one, not the other way round.
            transaction.on_commit(lambda: current_app.send_task(REPORT_BUILD_TASK, args=[job.pk]))
    return job


def case_snapshot_keep(*, case: Case, snapshot: Snapshot) -> None:
    """Keep a frozen snapshot (once per hash): what was built from it can be built again."""
    CaseSnapshot.objects.get_or_create(
        case=case,
        sha256=snapshot.sha256,
        defaults={"canonical_gz": zlib.compress(snapshot.canonical, SNAPSHOT_COMPRESSION)},
    )


def report_job_snapshot(*, job: ReportJob) -> Snapshot:
    """The snapshot the job's request froze, checked against the job's hash.

    A job requested before snapshots were kept has none: the case is frozen again, and
    the build goes ahead only if it is still the snapshot that was requested.
    """
    frozen = (
        CaseSnapshot.objects.filter(case_id=job.case_id, sha256=job.snapshot_sha256)
        .values_list("canonical_gz", flat=True)
        .first()
    )
    if frozen is None:
        snapshot = case_snapshot(case=job.case)
        if snapshot.sha256 != job.snapshot_sha256:
            raise ReportError(
                f"the case changed after this report was requested (snapshot "
                f"{job.snapshot_sha256}, now {snapshot.sha256}); request a report of the case "
                "as it stands"
            )
        return snapshot
    snapshot = snapshot_from_bytes(zlib.decompress(frozen))
    if snapshot.sha256 != job.snapshot_sha256:
        raise ReportError(
            f"the snapshot kept for this job hashes to {snapshot.sha256}, not "
            f"{job.snapshot_sha256}: it cannot be certified"
        )
    return snapshot


def build_lock(job_id: int, *, key: int = BUILD_LOCK_KEY):
    """Hold the job's advisory lock for the build; yields False when another live build
    holds it. The server releases it when the holder's connection ends, however it ends.
    `key` names the kind of job (reports; productions have their own). The same lock as
    the record's long work takes (`evidence.progress.work_lock`)."""
    return work_lock(key, job_id)


def build_in_progress(job_id: int, *, key: int = BUILD_LOCK_KEY) -> bool:
    """Whether a live process is building the job now (its advisory lock is held)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = %s AND objid = %s AND objsubid = 2 AND granted)",
            [key, job_id],
        )
        return cursor.fetchone()[0]


def report_job_requeue(job: ReportJob, exc: BaseException) -> None:
    with suppress(OperationalError, InterfaceError):  # the database may be what failed
        ReportJob.objects.filter(pk=job.pk).exclude(status=ReportJob.Status.DONE).update(
            status=ReportJob.Status.QUEUED, stage=f"waiting to retry: {exc}"[:100], percent=0
        )


def report_job_fail(*, job_id: int, reason: str) -> None:
    """Mark a job failed with its reason (never a finished one)."""
    with transaction.atomic():
        job = ReportJob.objects.select_for_update().select_related("case").get(pk=job_id)
        if job.status == ReportJob.Status.DONE:
            return
        job.status = ReportJob.Status.FAILED
        job.failure_reason = reason
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "failure_reason", "finished_at"])
        events.report_job_failed(job=job, reason=reason)


def report_jobs_recover() -> list[int]:
    """Jobs left queued or running with no live build (a worker killed mid-report): their
    ids, for a worker to send again. A job whose message survived too is harmless: the
    second build finds it done, or locked."""
    stale = []
    for job_id in ReportJob.objects.filter(
        status__in=(ReportJob.Status.QUEUED, ReportJob.Status.RUNNING)
    ).values_list("pk", flat=True):
        if not build_in_progress(job_id):
            stale.append(job_id)
    return stale
