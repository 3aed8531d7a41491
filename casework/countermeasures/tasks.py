"""The Celery tasks of countermeasures: thin, they take an id or nothing.

The hand-off task gives an action's transition to the platform.

Retried with exponential backoff while the platform answers 5xx or cannot be reached;
a refusal, or the retries spent, is recorded on the hand-off and in the ledger.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from casework.countermeasures.handoff import (
    HandoffRefused,
    HandoffTransient,
    handoff_deliver,
    handoff_fail,
)
from casework.countermeasures.notices import notice_deadlines_remind
from casework.countermeasures.services import HANDOFF_TASK

logger = logging.getLogger(__name__)


class HandoffTask(Task):
    """Records the hand-off failed when the task gives up (refused, or retries spent)."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        handoff_id = args[0] if args else kwargs.get("handoff_id")
        if handoff_id is None:
            return
        reason = str(exc)
        if isinstance(exc, HandoffTransient):
            reason = f"gave up after {self.request.retries} retries: {exc}"
        try:
            handoff_fail(handoff_id=handoff_id, reason=reason)
        except Exception:  # the database may be what failed; the hand-off stays pending
            logger.exception("could not record hand-off %s failed", handoff_id)


@shared_task(
    name=HANDOFF_TASK,
    base=HandoffTask,
    autoretry_for=(HandoffTransient,),
    dont_autoretry_for=(HandoffRefused,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=False,
    max_retries=settings.PACTA_ENFORCEMENT_WEBHOOK_MAX_RETRIES,
    acks_late=settings.CELERY_TASK_ACKS_LATE,
)
def action_handoff_task(handoff_id: int) -> dict:
    """Deliver hand-off `handoff_id` (a no-op once the platform confirmed it)."""
    handoff = handoff_deliver(handoff_id=handoff_id)
    return {"handoff": handoff.pk, "status": handoff.status, "attempts": handoff.attempts}


@shared_task(name="casework.countermeasures.tasks.notice_deadlines_remind_task")
def notice_deadlines_remind_task() -> dict:
    """Remind case owners of notices' deadlines near or past (each once); run by beat."""
    reminded = notice_deadlines_remind()
    return {"reminded": [notice.pk for notice in reminded]}
