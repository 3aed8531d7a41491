"""Celery tasks on the record side: thin, they take ids (or nothing) and call services."""

from celery import shared_task
from django.db import OperationalError

from evidence.services import ledger_check


@shared_task(
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def ledger_check_task() -> dict:
    """Recompute the ledger chain and record the result as a ledger entry of its own."""
    return ledger_check(actor="system:verifier").as_dict()
