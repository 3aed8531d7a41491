"""`evidence_verify`: recompute everything, record the outcome, name what no longer matches.

Run by `verify_evidence`, by a periodic Celery beat task, and (as `record_check`, which
records nothing) by `verify_report` for the record a report certifies.
The outcome is stored (`VerificationRun`, which drives the app's alert) and written to the
ledger, so the record shows when it was last proven intact (FRE 902(13)/(14): records
authenticated by the process that made them and by hash).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from evidence.custody import events, integrity
from evidence.custody.ledger import Actor, LedgerVerification, actor_label, ledger_verify
from evidence.custody.timestamping import timestamps_verify
from evidence.models import VerificationRun

CHECKS = (
    integrity.usage_verify,
    integrity.assent_verify,
    integrity.accounts_verify,
    integrity.terms_verify,
    integrity.probes_verify,
    integrity.serves_verify,
    integrity.billing_verify,
    integrity.canaries_verify,
    integrity.files_verify,
    integrity.assent_screens_verify,
    timestamps_verify,
)


@dataclass
class RecordCheck:
    """What one pass over the record found, before it is recorded as a run."""

    started_at: dt.datetime
    chain: LedgerVerification
    failures: integrity.Failures
    checked: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.failures.total == 0


def record_check() -> RecordCheck:
    """Verify the ledger chain and every row, batch, Terms text and file against the hash
    beside it and the value the ledger recorded; record nothing (see `evidence_verify`)."""
    started_at = timezone.now()
    clock = time.perf_counter()
    failures = integrity.Failures()
    chain = ledger_verify()
    for failure in chain.failures:
        failures.add(
            "ledger_entry",
            failure["seq"],
            failure["reason"],
            failure["expected"],
            failure["found"],
        )
    # Past the entries named: the total counts them all.
    failures.total += chain.failures_total - len(chain.failures)
    checked: dict[str, Any] = {"ledger_entries": chain.entries_checked}
    for check in CHECKS:
        checked.update(check(failures))
    checked["seconds"] = round(time.perf_counter() - clock, 3)
    return RecordCheck(started_at=started_at, chain=chain, failures=failures, checked=checked)


def evidence_verify(*, actor: Actor) -> VerificationRun:
    """Verify the ledger chain, every row, batch, Terms text and file; record the outcome.

    The outcome commits in a durable transaction: a verification that ran (above all one
    that failed) stays on the record whatever the caller does next.
    """
    result = record_check()
    label, _ = actor_label(actor)
    with transaction.atomic(durable=True):
        run = VerificationRun.objects.create(
            started_at=result.started_at,
            finished_at=timezone.now(),
            ok=result.ok,
            checked=result.checked,
            failures=result.failures.items,
            failures_total=result.failures.total,
            actor=label,
            ledger_head_seq=result.chain.head_seq,
            ledger_head_hash=result.chain.head_hash,
        )
        events.evidence_verified(actor=actor, run=run)
    return run


def verification_latest() -> VerificationRun | None:
    return VerificationRun.objects.order_by("-started_at", "-pk").first()


def verification_as_dict(run: VerificationRun) -> dict:
    """The `verify_evidence --json` document."""
    return {
        "ok": run.ok,
        "run": run.pk,
        "started_at": run.started_at.isoformat(),
        "checked": run.checked,
        "failures": run.failures,
        "failures_total": run.failures_total,
        "ledger": {"head_seq": run.ledger_head_seq, "head_hash": run.ledger_head_hash},
    }
