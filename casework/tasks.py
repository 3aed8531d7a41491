"""Celery tasks on the case side: thin, they take ids and call services.

A report build is long and must survive its worker: it acknowledges late (settings), is
retried on transient database, broker and timestamp-authority errors, runs under soft and
hard time limits and a memory guard, and is safe to run twice (the service builds a job's
report once). A worker that starts re-sends jobs a dead worker left queued or running, so
a worker killed mid-report (even by SIGKILL) leads, after restart, to one finished report.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

# Imported so that a worker (which discovers `casework.tasks` only) registers the tasks.
from casework.countermeasures.tasks import (  # noqa: F401
    action_handoff_task,
    notice_deadlines_remind_task,
)
from casework.models import ProductionJob, ReportJob
from casework.production.jobs import (
    PRODUCTION_BUILD_TASK,
    production_job_fail,
    production_job_run,
    production_jobs_recover,
)
from casework.production.retention import production_zips_expire
from casework.reports.jobs import (
    REPORT_BUILD_TASK,
    ReportTransientError,
    report_job_fail,
    report_jobs_recover,
)
from casework.reports.pipeline import report_build

logger = logging.getLogger(__name__)

TRANSIENT = (ReportTransientError, OperationalError, InterfaceError, BrokerError)


class ReportTask(Task):
    """Marks the job failed when the task gives up (retries spent, time limit hit)."""

    kind = "report"

    def job_fail(self, *, job_id: int, reason: str) -> None:
        report_job_fail(job_id=job_id, reason=reason)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id is None:
            return
        if isinstance(exc, SoftTimeLimitExceeded):
            reason = (
                f"the build exceeded its time limit ({settings.PACTA_REPORT_SOFT_TIME_LIMIT} s)"
            )
        else:
            reason = f"gave up after {self.request.retries} retries: {exc}"
        try:
            self.job_fail(job_id=job_id, reason=reason)
        except Exception:  # the database may be what failed; the job stays queued
            logger.exception("could not mark %s job %s failed", self.kind, job_id)


class ProductionTask(ReportTask):
    """The same, for a production job."""

    kind = "production"

    def job_fail(self, *, job_id: int, reason: str) -> None:
        production_job_fail(job_id=job_id, reason=reason)


# A build is long and must survive its worker (see the module's docstring): reports and
# productions are run alike.
BUILD_TASK_OPTIONS = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": settings.PACTA_REPORT_MAX_RETRIES,
    "soft_time_limit": settings.PACTA_REPORT_SOFT_TIME_LIMIT,
    "time_limit": settings.PACTA_REPORT_TIME_LIMIT,
    "acks_late": settings.CELERY_TASK_ACKS_LATE,
    "reject_on_worker_lost": settings.CELERY_TASK_REJECT_ON_WORKER_LOST,
}


@shared_task(name=REPORT_BUILD_TASK, base=ReportTask, **BUILD_TASK_OPTIONS)
def report_build_task(job_id: int) -> dict:
    """Build report job `job_id` (a no-op when it is done or another worker is building it)."""
    job = report_build(job=ReportJob.objects.get(pk=job_id))
    return {"job": job.pk, "status": job.status, "failure_reason": job.failure_reason}


@shared_task(name=PRODUCTION_BUILD_TASK, base=ProductionTask, **BUILD_TASK_OPTIONS)
def production_build_task(job_id: int) -> dict:
    """Build production job `job_id` into its zip (a no-op when it is done, failed, or
    another worker is building it)."""
    job = production_job_run(job=ProductionJob.objects.get(pk=job_id))
    return {"job": job.pk, "status": job.status, "failure_reason": job.failure_reason}


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def production_zips_expire_task() -> dict:
    """Remove production zips past PACTA_PRODUCTION_RETENTION_DAYS (Celery beat); their
    manifests stay on the jobs. Safe to run twice."""
    return production_zips_expire()


@worker_ready.connect
def report_jobs_resend(sender=None, **kwargs) -> None:
    """On worker start: send again the report and production jobs no live worker is
    building."""
    try:
        stale = report_jobs_recover()
        stale_productions = production_jobs_recover()
    except Exception:  # a worker must start even if the database is not there yet
        logger.exception("could not look for interrupted report jobs")
        return
    for job_id in stale:
        logger.warning("re-sending report job %s (left unfinished by a stopped worker)", job_id)
        report_build_task.delay(job_id)
    for job_id in stale_productions:
        logger.warning("re-sending production job %s (left unfinished by a stopped worker)", job_id)
        production_build_task.delay(job_id)
