"""Celery tasks on the record side: thin, they take ids (or nothing) and call services."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError

from evidence.custody.ledger import SystemActor
from evidence.custody.preservation import retention_purge
from evidence.custody.timestamping import ledger_timestamp
from evidence.custody.verification import evidence_verify, verification_as_dict
from evidence.detectors.jobs import detection_run_carry_out, detection_runs_recover
from evidence.detectors.service import detection_run
from evidence.ingest.jobs import ingest_job_carry_out, ingest_jobs_recover
from evidence.services import ledger_check

logger = logging.getLogger(__name__)


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def ledger_check_task() -> dict:
    """Recompute the ledger chain and record the result as a ledger entry of its own."""
    return ledger_check(actor=SystemActor.VERIFIER).as_dict()


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def evidence_verify_task() -> dict:
    """The periodic full verification (Celery beat); a failure raises the app's alert."""
    return verification_as_dict(evidence_verify(actor=SystemActor.VERIFIER))


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def retention_purge_task() -> dict:
    """Purge raw usage past the retention period (never held material); safe to run twice."""
    purge = retention_purge(actor=SystemActor.RETENTION)
    if purge is None:
        return {"retention": "disabled"}
    return {"purge": purge.pk, "removed": purge.removed, "held_kept": purge.held_kept}


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def ledger_timestamp_task() -> dict:
    """Have the configured authority timestamp the ledger head (no-op when none is set)."""
    stamp = ledger_timestamp()
    if stamp is None:
        return {"timestamping": "disabled or nothing to timestamp"}
    return {"timestamp": stamp.pk, "ledger_seq": stamp.ledger_seq}


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def detection_run_task(run_id: int | None = None) -> dict:
    """Run every detector over the record: the run someone asked for from the UI or the API
    (`run_id`, see `evidence.detectors.jobs`), or a new one. Safe to run twice: an asked-for
    run is carried out once, and otherwise a repeat is a later run (the latest finished run
    is the one counsel see)."""
    if run_id is not None:
        run = detection_run_carry_out(run_id=run_id)
    else:
        run = detection_run(actor=SystemActor.DETECTOR)
    return {"run": run.pk, "status": run.status, "digest": run.digest, "counts": run.counts}


@shared_task(autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def ingest_job_task(job_id: int) -> dict:
    """Ingest the file an ingest job holds (`evidence.ingest.jobs`); safe to run twice:
    only the first call finds the job queued."""
    job = ingest_job_carry_out(job_id=job_id)
    return {"job": job.pk, "status": job.status, "batch": job.batch_id}


@worker_ready.connect
def record_work_resend(sender=None, **kwargs) -> None:
    """On worker start: send again the ingest jobs and detection runs asked for that no
    live worker is carrying out (queued, or left running by a worker that stopped)."""
    try:
        jobs, runs = ingest_jobs_recover(), detection_runs_recover()
    except Exception:  # a worker must start even if the database is not there yet
        logger.exception("could not look for interrupted ingest jobs and detection runs")
        return
    for job_id in jobs:
        logger.warning("sending ingest job %s again (no worker has it)", job_id)
        ingest_job_task.delay(job_id=job_id)
    for run_id in runs:
        logger.warning("sending detection run %s again (no worker has it)", run_id)
        detection_run_task.delay(run_id=run_id)
