"""`evidence_verify`: recompute everything, record the outcome, name what no longer matches.

Run by `verify_evidence`, by a periodic Celery beat task and before a report is built.
The outcome is stored (`VerificationRun`, which drives the app's alert) and written to the
ledger, so the record shows when it was last proven intact (FRE 902(13)/(14): records
authenticated by the process that made them and by hash).
"""

from __future__ import annotations

import time

from django.db import transaction
from django.utils import timezone

from evidence.custody import events, integrity
from evidence.custody.ledger import Actor, actor_label, ledger_verify
from evidence.custody.timestamping import timestamps_verify
from evidence.models import VerificationRun

CHECKS = (
    integrity.usage_verify,
    integrity.assent_verify,
    integrity.accounts_verify,
    integrity.terms_verify,
    integrity.files_verify,
    timestamps_verify,
)


def evidence_verify(*, actor: Actor) -> VerificationRun:
    """Verify the ledger chain, every row, batch, Terms text and file; record the outcome.

    The outcome commits in a durable transaction: a verification that ran (above all one
    that failed) stays on the record whatever the caller does next.
    """
    started_at = timezone.now()
    clock = time.perf_counter()
    failures = integrity.Failures()
    chain = ledger_verify()
    if not chain.ok:
        failure = chain.failure
        failures.add(
            "ledger_entry",
            failure["seq"],
            failure["reason"],
            failure["expected"],
            failure["found"],
        )
    checked: dict[str, int] = {"ledger_entries": chain.entries_checked}
    for check in CHECKS:
        checked.update(check(failures))
    checked["seconds"] = round(time.perf_counter() - clock, 3)
    label, _ = actor_label(actor)
    with transaction.atomic(durable=True):
        run = VerificationRun.objects.create(
            started_at=started_at,
            finished_at=timezone.now(),
            ok=failures.total == 0,
            checked=checked,
            failures=failures.items,
            failures_total=failures.total,
            actor=label,
            ledger_head_seq=chain.head_seq,
            ledger_head_hash=chain.head_hash,
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
