"""A report worker killed with SIGKILL mid-report leads, after restart, to one finished report.

A real `celery -A casework worker` on the Redis broker builds the report; the test kills
its whole process group while the job is running (no clean-up code of the worker runs),
starts a new worker, and checks that the job finishes exactly once: one done job, one
report PDF stored for it. The workers use the test database: its rows are committed
(`transaction=True`), and the subprocess gets a DATABASE_URL naming it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from casework.models import ReportJob
from casework.reports import report_job_request
from evidence.models import EvidenceItem
from tests.casework.test_reports import case  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media_root"),
]
ROOT = settings.BASE_DIR


def _database_url() -> str:
    """The test database as a URL a subprocess can use, embedded server or not."""
    params = connection.get_connection_params()
    user = quote(params.get("user") or "postgres")
    password = params.get("password")
    auth = f"{user}:{quote(password)}@" if password else f"{user}@"
    host, port, name = str(params.get("host") or ""), params.get("port") or 5432, params["dbname"]
    if host.startswith("/"):  # a Unix socket folder (the embedded server)
        return f"postgres://{auth}:{port}/{name}?host={quote(host)}"
    return f"postgres://{auth}{host}:{port}/{name}"


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PACTA_MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PACTA_SIGNING_CERT": settings.PACTA_SIGNING_CERT,
            "PACTA_SIGNING_KEY": settings.PACTA_SIGNING_KEY,
            "PACTA_SIGNING_CHAIN": ",".join(settings.PACTA_SIGNING_CHAIN),
            "PACTA_REPORT_ORGANISATION": settings.PACTA_REPORT_ORGANISATION,
            "PACTA_REPORT_WORK_DIR": settings.PACTA_REPORT_WORK_DIR,
            "PACTA_TSA_URL": "",
            "LOG_LEVEL": "INFO",
        }
    )
    return env


def _start_worker(env, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "casework", "worker", "--pool=solo",
         "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so one killpg reaches everything
    )  # fmt: skip


def _kill(worker: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def _wait(job_id: int, done, *, seconds: float, worker, log_path) -> ReportJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = ReportJob.objects.get(pk=job_id)
        if done(job):
            return job
        if worker.poll() is not None:
            pytest.fail(f"the worker exited early:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.05)
    pytest.fail(
        f"job {job_id} never reached the state; worker log:\n{log_path.read_text()[-4000:]}"
    )


def test_worker_killed_mid_report_leads_to_exactly_one_report(case, counsel_user, tmp_path):  # noqa: F811
    from casework.tasks import report_build_task

    env = _worker_env()
    job = report_job_request(actor=counsel_user, case=case, edition="counsel")
    first_log = tmp_path / "worker-1.log"
    with first_log.open("w") as log:
        worker = _start_worker(env, log)
        try:
            report_build_task.delay(job.pk)
            running = _wait(
                job.pk,
                lambda j: j.status == ReportJob.Status.RUNNING and j.percent >= 5,
                seconds=120,
                worker=worker,
                log_path=first_log,
            )
        finally:
            _kill(worker)
    assert running.status == ReportJob.Status.RUNNING
    killed = ReportJob.objects.get(pk=job.pk)
    assert killed.status == ReportJob.Status.RUNNING, "the build finished before the kill"
    assert not EvidenceItem.objects.filter(kind="report_pdf").exists()

    second_log = tmp_path / "worker-2.log"
    with second_log.open("w") as log:
        worker = _start_worker(env, log)
        try:
            finished = _wait(
                job.pk,
                lambda j: j.status in (ReportJob.Status.DONE, ReportJob.Status.FAILED),
                seconds=180,
                worker=worker,
                log_path=second_log,
            )
            # Anything still queued for the job (the resend, a redelivery) runs as a no-op.
            report_build_task.delay(job.pk)
            time.sleep(3)
        finally:
            _kill(worker)
    assert finished.status == ReportJob.Status.DONE, finished.failure_reason
    assert ReportJob.objects.filter(case=case, status=ReportJob.Status.DONE).count() == 1
    pdfs = EvidenceItem.objects.filter(kind="report_pdf")
    assert pdfs.count() == 1 and pdfs.get().pk == finished.pdf_id
    assert "re-sending report job" in second_log.read_text()
