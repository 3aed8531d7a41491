"""Detection runs asked for from the UI or the API: recorded at once as queued, carried out
by a Celery worker (`evidence.tasks.detection_run_task`), watched as they go.

The run row exists from the moment it is asked for, so the person who asked has a page
(and the API a Location) to watch; its `DetectionProgress` row is what moves. The run
itself is `detection_run`, exactly as `manage.py detect` does it, ledgered under the name
of the person who asked.
"""

from __future__ import annotations

import datetime as dt

from celery import current_app
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from evidence.access import RECORD_WRITER_ROLES, record_writer
from evidence.custody.ledger import SystemActor, actor_label
from evidence.detectors.registry import detector_versions, signals
from evidence.detectors.service import detection_run
from evidence.models import DetectionProgress, DetectionRun
from evidence.progress import DETECTION_LOCK_KEY, ProgressRecorder, work_lock, work_recover

# Sent by name: the task module imports this one, not the other way round.
DETECTION_RUN_TASK = "evidence.tasks.detection_run_task"
WAITING = "waiting for a worker"


def detection_run_request(
    *, actor, window_start: dt.datetime | None = None, window_end: dt.datetime | None = None
) -> DetectionRun:
    """Record a run as queued for `actor` and send it to a worker once this commits; the
    window (both ends optional) is kept on the run until the worker reads it."""
    if not record_writer(actor):
        raise PermissionDenied(
            "your role may not run detection: it adds findings to the record, which is for "
            f"the {', '.join(RECORD_WRITER_ROLES)} roles"
        )
    label, _ = actor_label(actor)
    now = timezone.now()
    with transaction.atomic():
        run = DetectionRun.objects.create(
            status=DetectionRun.Status.QUEUED,
            started_at=now,
            actor=label,
            detector_versions=detector_versions(),
            window_start=window_start,
            window_end=window_end,
        )
        DetectionProgress.objects.create(
            run=run,
            requested_by=actor,
            detectors_total=len(signals()),
            step=WAITING,
            updated_at=now,
        )
        transaction.on_commit(
            lambda: current_app.send_task(DETECTION_RUN_TASK, kwargs={"run_id": run.pk})
        )
    return run


def detection_run_carry_out(*, run_id: int, every_seconds: float | None = None) -> DetectionRun:
    """Carry out a queued run (the worker's side). Safe to run twice: only the first call
    finds the run queued, and a later one returns the run as it stands."""
    with work_lock(DETECTION_LOCK_KEY, run_id) as mine:
        if mine:
            return _carry_out(run_id=run_id, every_seconds=every_seconds)
    return DetectionRun.objects.get(pk=run_id)  # another live worker has it


def _carry_out(*, run_id: int, every_seconds: float | None) -> DetectionRun:
    now = timezone.now()
    taken = DetectionRun.objects.filter(pk=run_id, status=DetectionRun.Status.QUEUED).update(
        status=DetectionRun.Status.RUNNING, started_at=now
    )
    run = DetectionRun.objects.select_related("progress__requested_by").get(pk=run_id)
    if not taken:
        return run
    progress_row = getattr(run, "progress", None)
    requester = progress_row.requested_by if progress_row else None
    actor = requester or SystemActor.DETECTOR
    kwargs = {} if every_seconds is None else {"every_seconds": every_seconds}
    recorder = ProgressRecorder(DetectionProgress, run.pk, **kwargs)
    step = "finished"
    try:
        detection_run(
            actor=actor,
            run=run,
            progress=recorder,
            window_start=run.window_start,
            window_end=run.window_end,
        )
    except BaseException as exc:
        step = f"failed: {type(exc).__name__}"
        raise
    finally:
        recorder.close()
        # The run has committed or rolled back: the last figures go in by this connection
        # too, so they stand even where the side connection could not see the row.
        DetectionProgress.objects.filter(pk=run.pk).update(
            **{**recorder.latest, "step": step[:200], "updated_at": timezone.now()}
        )
    run.refresh_from_db()
    return run


def detection_runs_recover() -> list[int]:
    """Runs asked for whose worker stopped mid-run go back to the queue; every queued run's
    id, for a starting worker to send again."""
    return work_recover(
        DetectionRun,
        key=DETECTION_LOCK_KEY,
        queued=DetectionRun.Status.QUEUED,
        running=DetectionRun.Status.RUNNING,
    )
