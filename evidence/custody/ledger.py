"""The ledger: one append-only, hash-chained log of every act on evidence.

Each entry's hash covers its own fields and the previous entry's hash, so changing,
removing or reordering any entry breaks the chain from that point on; `ledger_verify`
recomputes it and names every entry that no longer matches. The database refuses
UPDATE and DELETE on the table (trigger from migration 0002), and appends are serialised
with a PostgreSQL advisory lock so concurrent writers still form a single chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.utils import timezone

from evidence.custody.canonical import (
    GENESIS_HASH,
    json_native,
    ledger_entry_hash,
)
from evidence.models import LedgerEntry

# Advisory lock key for ledger appends ("PACTALDG" as an int64); any constant works as long
# as every writer uses the same one.
LEDGER_LOCK_KEY = 0x50414354414C4447


class SystemActor(StrEnum):
    """The processes that act on their own account: commands, tasks, the demo. Each is
    named once here; a case acts only for a user with a role on it or for one of these."""

    CLI = "system:cli"
    DEMO = "system:demo"
    DETECTOR = "system:detector"
    # Hands enforcement actions to the provider's platform and records its confirmation.
    ENFORCEMENT = "system:enforcement"
    # Reminds case owners of the deadlines their notices set.
    NOTICES = "system:notices"
    REPORTS = "system:reports"
    RETENTION = "system:retention"
    TIMESTAMP = "system:timestamp"
    VERIFIER = "system:verifier"


SYSTEM_ACTORS = frozenset(actor.value for actor in SystemActor)

Actor = AbstractBaseUser | AnonymousUser | str | None


def is_system_actor(actor: Actor) -> bool:
    """True for one of the named system processes (a string naming nothing else is not)."""
    return isinstance(actor, str) and actor in SYSTEM_ACTORS


def actor_label(actor: Actor) -> tuple[str, int | None]:
    """Who did it, as the ledger records it: a username (and id), or a named system process."""
    if actor is None:
        return "system", None
    if isinstance(actor, str):
        return str(actor), None
    if not actor.is_authenticated:
        return "anonymous", None
    return actor.get_username(), actor.pk


def ledger_append(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: Any,
    object_sha256: str = "",
    details: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Append one entry, inside the caller's transaction when there is one.

    Call it in the same transaction as the change it records: if the change rolls back, so
    does its entry, and the chain never names an act that did not happen.
    """
    if action not in LedgerEntry.Action.values:
        raise ValueError(f"unknown ledger action {action!r}")
    label, user_id = actor_label(actor)
    details = json_native(details or {})
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Held to the end of the transaction: the next writer waits and then reads our
            # entry as its predecessor.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
        last = LedgerEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        # Truncated to microseconds, the precision PostgreSQL stores, so the hash recomputes.
        recorded_at = timezone.now()
        fields = {
            "seq": seq,
            "recorded_at": recorded_at,
            "actor": label,
            "actor_user_id": user_id,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "object_sha256": object_sha256 or "",
            "details": details,
            "prev_hash": prev_hash,
        }
        return LedgerEntry.objects.create(**fields, entry_hash=ledger_entry_hash(**fields))


def ledger_append_many(*, actor: Actor, entries: list[dict[str, Any]]) -> list[LedgerEntry]:
    """Append several entries under one lock (e.g. every account linked to a case).

    Each item of `entries` has the keyword arguments of `ledger_append` except `actor`.
    The chain is the same as with one call per entry; only the locking is shared.
    """
    if not entries:
        return []
    label, user_id = actor_label(actor)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK_KEY])
        last = LedgerEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        recorded_at = timezone.now()
        rows = []
        for entry in entries:
            if entry["action"] not in LedgerEntry.Action.values:
                raise ValueError(f"unknown ledger action {entry['action']!r}")
            fields = {
                "seq": seq,
                "recorded_at": recorded_at,
                "actor": label,
                "actor_user_id": user_id,
                "action": entry["action"],
                "object_type": entry["object_type"],
                "object_id": str(entry["object_id"]),
                "object_sha256": entry.get("object_sha256") or "",
                "details": json_native(entry.get("details") or {}),
                "prev_hash": prev_hash,
            }
            row = LedgerEntry(**fields, entry_hash=ledger_entry_hash(**fields))
            rows.append(row)
            seq, prev_hash = seq + 1, row.entry_hash
        return LedgerEntry.objects.bulk_create(rows, batch_size=2000)


# Broken entries named in full, at most; the rest are counted (`failures_total`). A chain
# rewritten from one point on breaks once per entry that follows, and a thousand names
# are enough to show where and how.
LEDGER_FAILURES_SHOWN = 1000


@dataclass
class LedgerVerification:
    """The outcome of recomputing the chain: every entry that broke it, and its head.

    `failure` is the first broken entry (the earliest point the chain can no longer be
    trusted from); `failures` names each one, up to `LEDGER_FAILURES_SHOWN`, and
    `failures_total` counts them all. `head_seq` and `head_hash` are the ledger's last entry.
    """

    ok: bool
    entries_checked: int
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    failures: list[dict[str, Any]] = field(default_factory=list)
    failures_total: int = 0

    @property
    def failure(self) -> dict[str, Any] | None:
        return self.failures[0] if self.failures else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries_checked": self.entries_checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "failure": self.failure,
            "failures": self.failures,
            "failures_total": self.failures_total,
        }


def _entry_problem(entry: LedgerEntry, expected_seq: int, expected_prev: str) -> dict | None:
    """What is wrong with one entry, read after the one before it; None when it holds."""
    if entry.seq != expected_seq:
        return {
            "reason": f"sequence gap: expected entry {expected_seq}, found {entry.seq}",
            "expected": str(expected_seq),
            "found": str(entry.seq),
        }
    if entry.prev_hash != expected_prev:
        return {
            "reason": "previous-hash link does not match the entry before it",
            "expected": expected_prev,
            "found": entry.prev_hash,
        }
    recomputed = ledger_entry_hash(
        seq=entry.seq,
        recorded_at=entry.recorded_at,
        actor=entry.actor,
        actor_user_id=entry.actor_user_id,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        object_sha256=entry.object_sha256,
        details=entry.details,
        prev_hash=entry.prev_hash,
    )
    if recomputed != entry.entry_hash:
        return {
            "reason": "entry content does not match its recorded hash",
            "expected": entry.entry_hash,
            "found": recomputed,
        }
    return None


def ledger_verify(*, failures_shown: int = LEDGER_FAILURES_SHOWN) -> LedgerVerification:
    """Recompute every entry's hash and link, in order, naming every entry that breaks.

    After a broken entry the check goes on from that entry as it stands (its own sequence
    number and stored hash), so one forged entry is named once, and a second forgery
    further on is named too instead of hiding behind the first.
    """
    result = LedgerVerification(ok=True, entries_checked=0)
    expected_prev = GENESIS_HASH
    expected_seq = 1
    entries = LedgerEntry.objects.order_by("seq").iterator(chunk_size=5000)
    for entry in entries:
        problem = _entry_problem(entry, expected_seq, expected_prev)
        if problem:
            result.ok = False
            result.failures_total += 1
            if len(result.failures) < failures_shown:
                result.failures.append(
                    {"object": "ledger_entry", "id": entry.pk, "seq": entry.seq, **problem}
                )
        result.entries_checked += 1
        expected_prev = entry.entry_hash
        expected_seq = entry.seq + 1
    result.head_seq, result.head_hash = expected_seq - 1, expected_prev
    return result


def ledger_head() -> tuple[int, str]:
    """The last entry's sequence number and hash: what a report certifies it was built against."""
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
    return last if last else (0, GENESIS_HASH)


def ledger_for_object(*, object_type: str, object_id: Any):
    """Every act on one object, oldest first (its custody history)."""
    return LedgerEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by(
        "seq"
    )
