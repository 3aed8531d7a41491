"""Preservation and retention: what a hold keeps, what retention removes, and custody history.

Retention exists for privacy: raw usage events hold prompts and IP addresses, and should
not be kept longer than the policy allows. A legal hold overrides it: material a case
relies on must survive (spoliation of evidence under a hold is sanctionable). Every purge
is recorded in the ledger with the digest of what it removed, and each removed row leaves
its hash behind (`PurgedUsageRow`) so the batch digests still verify afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from evidence.custody import events
from evidence.custody.canonical import RowDigest
from evidence.custody.ledger import Actor, actor_label, ledger_for_object
from evidence.models import (
    Account,
    EvidenceItem,
    LedgerEntry,
    PreservationHold,
    RetentionPurge,
    UsageEvent,
    VerificationRun,
)


class HeldMaterialError(Exception):
    """Refused: the material is preserved under a legal hold."""


# The app's only paths that remove evidence rows. The database refuses every other DELETE
# of usage rows and evidence files, and a held row's even on these (migration 0100).
RETENTION_PURGE = "retention_purge"
EVIDENCE_ITEM_DELETE = "evidence_item_delete"


@contextmanager
def _maintenance(path: str, *, durable: bool = False) -> Iterator[None]:
    """A transaction in which the database lets `path` delete the rows it removes."""
    with transaction.atomic(durable=durable), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pacta.maintenance', %s, true)", [path])
        yield
        # Cleared on the way out: inside an outer transaction a transaction-local setting
        # would outlive this block (a failed block rolls it back with everything else).
        cursor.execute("SELECT set_config('pacta.maintenance', '', true)")


def holds_active() -> Any:
    return PreservationHold.objects.filter(released_at__isnull=True)


def evidence_item_held_by(item: EvidenceItem) -> list[str]:
    """The references (cases) holding a file, if any."""
    return sorted(
        set(holds_active().filter(evidence_item=item).values_list("reference", flat=True))
    )


def account_held_by(account: Account) -> list[str]:
    return sorted(set(holds_active().filter(account=account).values_list("reference", flat=True)))


def evidence_item_delete(*, actor: Actor, item: EvidenceItem) -> None:
    """Delete a file that no hold protects (e.g. a superseded draft exhibit); ledgered."""
    held_by = evidence_item_held_by(item)
    if held_by:
        raise HeldMaterialError(
            f"evidence file {item.pk} ({item.file_name}) is preserved under legal hold by "
            f"{', '.join(held_by)}; release the hold before deleting it"
        )
    with _maintenance(EVIDENCE_ITEM_DELETE):
        events.evidence_item_deleted(actor=actor, item=item)
        item.file.delete(save=False)
        item.delete()


# Usage rows an active hold covers: same account, inside the hold's window (open ends
# meaning unbounded).
_HELD_USAGE = """
EXISTS (
    SELECT 1 FROM evidence_preservationhold h
    JOIN evidence_account a ON a.id = h.account_id
    WHERE h.released_at IS NULL AND a.account_id = u.account_id
      AND (h.window_start IS NULL OR u.ts >= h.window_start)
      AND (h.window_end IS NULL OR u.ts <= h.window_end)
)
"""


def retention_purge(
    *, actor: Actor, now: dt.datetime | None = None, batch_size: int = 50_000
) -> RetentionPurge | None:
    """Remove raw usage events older than the retention period, never held ones.

    Works in batches (each its own transaction, so a large purge does not hold locks for
    long); each removed row's id, batch and hash move to `PurgedUsageRow` in the same
    statement that deletes it. Returns None when no retention period is configured.

    Durable, batches and record alike: rows removed are gone for good, so no caller may
    wrap the purge in a transaction whose rollback would lose its ledger entry.
    """
    days = settings.PACTA_USAGE_RETENTION_DAYS
    if not days:
        return None
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=days)
    label, _ = actor_label(actor)
    purge = RetentionPurge.objects.create(cutoff=cutoff, started_at=now, actor=label)
    digest = RowDigest()
    removed = 0
    while True:
        with _maintenance(RETENTION_PURGE, durable=True), connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH doomed AS (
                    SELECT u.id, u.batch_id, u.request_id, u.row_sha256
                    FROM evidence_usageevent u
                    WHERE u.ts < %s AND NOT {_HELD_USAGE}
                    ORDER BY u.id LIMIT %s
                    FOR UPDATE SKIP LOCKED
                ), kept AS (
                    INSERT INTO evidence_purgedusagerow (id, batch_id, request_id, row_sha256,
                                                         purge_id)
                    SELECT id, batch_id, request_id, row_sha256, %s FROM doomed
                    RETURNING id
                )
                DELETE FROM evidence_usageevent WHERE id IN (SELECT id FROM kept)
                RETURNING id, row_sha256
                """,
                [cutoff, batch_size, purge.pk],
            )
            rows = sorted(cursor.fetchall())
        if not rows:
            break
        for _, row_hash in rows:
            digest.add(row_hash)
        removed += len(rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM evidence_usageevent u WHERE u.ts < %s AND {_HELD_USAGE}",
            [cutoff],
        )
        held_kept = cursor.fetchone()[0]
    with transaction.atomic(durable=True):
        RetentionPurge.objects.filter(pk=purge.pk).update(
            finished_at=timezone.now(),
            removed=removed,
            held_kept=held_kept,
            removed_digest=digest.hexdigest(),
        )
        purge.refresh_from_db()
        events.retention_purged(actor=actor, purge=purge, cutoff=cutoff, retention_days=days)
    return purge


def custody_history(*, object_type: str, object_id: Any) -> list[dict[str, Any]]:
    """Every act on an evidence item, account or case, oldest first, who and when.

    From the ledger, joined with what the ledger records in bulk rather than per object:
    the ingest batches that brought an account and its usage, the holds that covered it,
    and the verification runs that checked a file.
    """
    history: list[dict[str, Any]] = []

    def add_entries(entries) -> None:
        for entry in entries:
            history.append(
                {
                    "at": entry.recorded_at,
                    "action": events.entry_action(entry),
                    "actor": entry.actor,
                    "ledger_seq": entry.seq,
                    "object": f"{entry.object_type}:{entry.object_id}",
                    "details": entry.details,
                }
            )

    add_entries(ledger_for_object(object_type=object_type, object_id=object_id))
    if object_type == "account":
        account = Account.objects.filter(account_id=object_id).first()
        if account is not None:
            batch_ids = set(
                UsageEvent.objects.filter(account_id=account.account_id)
                .values_list("batch_id", flat=True)
                .distinct()
            )
            if account.batch_id:
                batch_ids.add(account.batch_id)
            # Every accounts file that recorded a version of the profile, not only the last.
            batch_ids |= set(account.versions.values_list("batch_id", flat=True))
            batch_ids |= set(account.assents.values_list("batch_id", flat=True))
            add_entries(
                LedgerEntry.objects.filter(
                    object_type="ingest_batch",
                    object_id__in=[str(b) for b in batch_ids if b],
                ).order_by("seq")
            )
            for hold in PreservationHold.objects.filter(account=account):
                history.append(_hold_event(hold, "held", hold.placed_at, hold.placed_by))
                if hold.released_at:
                    history.append(_hold_event(hold, "released", hold.released_at, ""))
    elif object_type == "evidence_item":
        item = EvidenceItem.objects.filter(pk=object_id).first()
        if item is not None:
            for hold in PreservationHold.objects.filter(evidence_item=item):
                history.append(_hold_event(hold, "held", hold.placed_at, hold.placed_by))
                if hold.released_at:
                    history.append(_hold_event(hold, "released", hold.released_at, ""))
            runs = VerificationRun.objects.filter(started_at__gte=item.collected_at)
            for run in runs.order_by("started_at"):
                failed = any(
                    f["object"] == "evidence_item" and str(f["id"]) == str(item.pk)
                    for f in run.failures
                )
                history.append(
                    {
                        "at": run.finished_at,
                        "action": "verified",
                        "actor": run.actor,
                        "ledger_seq": None,
                        "object": f"verification_run:{run.pk}",
                        "details": {"ok": not failed, "run": run.pk},
                    }
                )
    history.sort(key=lambda e: (e["at"], e["ledger_seq"] or 0))
    return history


def _hold_event(hold: PreservationHold, action: str, at, actor: str) -> dict[str, Any]:
    return {
        "at": at,
        "action": action,
        "actor": actor,
        "ledger_seq": None,
        "object": f"preservation_hold:{hold.pk}",
        "details": {
            "reference": hold.reference,
            "window_start": hold.window_start.isoformat() if hold.window_start else None,
            "window_end": hold.window_end.isoformat() if hold.window_end else None,
        },
    }


def holds_place(
    *,
    actor: Actor,
    reference: str,
    accounts: list[Account],
    window_start: dt.datetime | None,
    window_end: dt.datetime | None,
    evidence_items: list[EvidenceItem],
) -> int:
    """Preserve accounts' usage in a window and files, for `reference`; returns holds made.

    Called by the case side inside its own transaction (with its ledger entry), so a hold
    is never half placed.
    """
    label, _ = actor_label(actor)
    now = timezone.now()
    held_accounts = set(
        holds_active()
        .filter(reference=reference, account__isnull=False)
        .values_list("account_id", flat=True)
    )
    held_items = set(
        holds_active()
        .filter(reference=reference, evidence_item__isnull=False)
        .values_list("evidence_item_id", flat=True)
    )
    holds = [
        PreservationHold(
            reference=reference,
            account=account,
            window_start=window_start,
            window_end=window_end,
            placed_by=label,
            placed_at=now,
        )
        for account in accounts
        if account.pk not in held_accounts
    ] + [
        PreservationHold(reference=reference, evidence_item=item, placed_by=label, placed_at=now)
        for item in evidence_items
        if item.pk not in held_items
    ]
    PreservationHold.objects.bulk_create(holds, batch_size=2000)
    return len(holds)


def holds_release(*, reference: str) -> int:
    """Release every active hold of `reference`; returns how many were released."""
    return holds_active().filter(reference=reference).update(released_at=timezone.now())


def usage_held_count(*, reference: str) -> int:
    """How many usage events the holds of `reference` preserve (for the case's hold notice)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM evidence_usageevent u
            WHERE EXISTS (
                SELECT 1 FROM evidence_preservationhold h
                JOIN evidence_account a ON a.id = h.account_id
                WHERE h.released_at IS NULL AND h.reference = %s
                  AND a.account_id = u.account_id
                  AND (h.window_start IS NULL OR u.ts >= h.window_start)
                  AND (h.window_end IS NULL OR u.ts <= h.window_end)
            )
            """,
            [reference],
        )
        return cursor.fetchone()[0]
