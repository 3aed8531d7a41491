"""Loaders: validated rows into PostgreSQL, one loader per kind, inside the caller's transaction.

The usage loader is the hot path. It streams prepared blocks (`usage_blocks`) straight into
the usage table with COPY, a chunk at a time under a savepoint, so new data loads at the
database's bulk-load speed.
Only when a chunk collides with a stored request id (a re-sent or overlapping file) does it
roll that chunk back and switch to the staging path (COPY into a temporary table, then
`INSERT ... ON CONFLICT DO NOTHING`), paying for de-duplication only where there is overlap.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from evidence.custody.canonical import ACCOUNT_PROFILE_FIELDS, USAGE_HASHED_FIELDS, RowDigest
from evidence.ingest.records import RecordError
from evidence.ingest.usage_blocks import UsageBlock
from evidence.models import (
    Account,
    AccountVersion,
    AssentRecord,
    BillingRecord,
    Canary,
    CanaryServe,
    IngestBatch,
    PreservationHold,
    ProbeExchange,
    TermsVersion,
)

# The stored columns: the hashed content, then provenance (batch and the row's own hash).
USAGE_COLUMNS = (*USAGE_HASHED_FIELDS, "batch_id", "row_sha256")
_COLUMN_LIST = ", ".join(USAGE_COLUMNS)
_COPY_USAGE = f"COPY evidence_usageevent ({_COLUMN_LIST}) FROM STDIN"
_COPY_STAGING = f"COPY pacta_usage_staging ({_COLUMN_LIST}) FROM STDIN"


# An account stub: the profile left blank (NULL where a value would be typed), marked as
# known only from usage. One statement for a whole chunk's accounts, in the order given.
_ACCOUNT_STUBS_SQL = """
INSERT INTO evidence_account (account_id, org_name, email, country, billing_country,
    payment_fingerprint, signup_user_agent, plan, status, reseller, seen_only_in_usage,
    content_sha256, recorded_at)
SELECT a.account_id, '', '', '', '', '', '', '', '', false, true, '', %s
FROM unnest(%s::text[]) WITH ORDINALITY AS a (account_id, n)
ORDER BY a.n
ON CONFLICT DO NOTHING
"""
# Each key a chunk names first, with its account and the time of its first use.
_API_KEYS_SQL = """
INSERT INTO evidence_apikey (key_id, account_id, first_seen_at, batch_id)
SELECT k.key_id, a.id, k.ts::timestamptz, %s
FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS k (key_id, account, ts, n)
JOIN evidence_account a ON a.account_id = k.account
ORDER BY k.n
ON CONFLICT DO NOTHING
"""


def _accounts_ensure(account_ids: set[str]) -> None:
    """Create a stub for every account that usage or assent names but no accounts file has.

    A stub is marked `seen_only_in_usage` so nobody mistakes it for a profile; a later
    accounts file fills it in. Plain SQL rather than `bulk_create`: a large file names tens
    of thousands of accounts and keys, and model instances for them cost seconds of the
    ingest's one main process.
    """
    if account_ids:
        with connection.cursor() as cursor:
            cursor.execute(_ACCOUNT_STUBS_SQL, [timezone.now(), sorted(account_ids)])


def _accounts_named(rows: list[dict[str, Any]]) -> dict[str, int]:
    """{account id: primary key} of the accounts `rows` name, a stub made for each unknown."""
    account_ids = {row["account_id"] for row in rows}
    _accounts_ensure(account_ids)
    return dict(Account.objects.filter(account_id__in=account_ids).values_list("account_id", "pk"))


class UsageLoader:
    """Streams blocks of usage rows into the usage table; see the module docstring.

    A chunk (one savepoint) closes once it holds `chunk_rows` rows or `chunk_bytes` bytes
    of COPY text: its blocks are held until then, to be redone if the chunk collides.
    """

    def __init__(self, *, batch: IngestBatch, chunk_rows: int, chunk_bytes: int) -> None:
        self.chunk_rows = chunk_rows
        self.chunk_bytes = chunk_bytes
        self.batch_id = batch.pk
        self.digest = RowDigest()
        self.accepted = 0
        self.duplicates = 0
        self.overlap = False
        self._cursor = connection.cursor()
        self._chunk: list[UsageBlock] = []
        self._chunk_rows = 0
        self._chunk_bytes = 0
        self._chunk_accounts: set[str] = set()
        self._chunk_keys: dict[str, tuple[str, str]] = {}
        self._ensured_accounts: set[str] = set()
        self._ensured_keys: set[str] = set()
        self._copy_cm = None
        self._copy = None
        self._savepoint = None
        self._staging_ready = False

    def add_block(self, block: UsageBlock) -> None:
        if not block.rows:
            return
        self._chunk.append(block)
        self._chunk_rows += block.rows
        self._chunk_bytes += len(block.copy_data)
        self._chunk_accounts |= block.accounts - self._ensured_accounts
        for key, first in block.keys.items():
            if key not in self._ensured_keys and key not in self._chunk_keys:
                self._chunk_keys[key] = first
        if not self.overlap:
            if self._copy is None:
                self._copy_open()
            self._copy.write(block.copy_data)
        if self._chunk_rows >= self.chunk_rows or self._chunk_bytes >= self.chunk_bytes:
            self._chunk_close()

    def finish(self) -> None:
        self._chunk_close()
        self._cursor.close()

    # -- chunks ---------------------------------------------------------------------------

    def _copy_open(self) -> None:
        self._savepoint = transaction.savepoint()
        # The queued writer sends from a worker thread, so Python keeps parsing and
        # validating while the server is busy storing the previous rows.
        raw_cursor = self._cursor.cursor
        self._copy_cm = raw_cursor.copy(_COPY_USAGE, writer=QueuedLibpqWriter(raw_cursor))
        self._copy = self._copy_cm.__enter__()

    def _chunk_close(self) -> None:
        if not self._chunk:
            return
        if self._copy is not None:
            try:
                self._copy_cm.__exit__(None, None, None)
            except (psycopg.errors.UniqueViolation, IntegrityError):
                transaction.savepoint_rollback(self._savepoint)
                self.overlap = True  # overlap tends to continue: stage from here on
            else:
                transaction.savepoint_commit(self._savepoint)
                for block in self._chunk:
                    self.digest.add_lines(block.hash_lines)
                self.accepted += self._chunk_rows
            finally:
                self._copy_cm = self._copy = self._savepoint = None
        if self.overlap:
            self._chunk_stage()
        self._references_ensure()
        self._chunk = []
        self._chunk_rows = 0
        self._chunk_bytes = 0

    def _chunk_stage(self) -> None:
        cursor = self._cursor
        if not self._staging_ready:
            # IF NOT EXISTS: an outer transaction (a test, a multi-file import) may already
            # hold one from an earlier file. `seq` numbers rows in file order.
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS pacta_usage_staging ON COMMIT DROP AS "
                f"SELECT {_COLUMN_LIST} FROM evidence_usageevent WITH NO DATA"
            )
            cursor.execute(
                "ALTER TABLE pacta_usage_staging "
                "ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY"
            )
            self._staging_ready = True
        cursor.execute("TRUNCATE pacta_usage_staging RESTART IDENTITY")
        with cursor.cursor.copy(_COPY_STAGING) as copy:
            for block in self._chunk:
                copy.write(block.copy_data)
        cursor.execute(
            f"INSERT INTO evidence_usageevent ({_COLUMN_LIST}) "
            f"SELECT {_COLUMN_LIST} FROM pacta_usage_staging ORDER BY seq "
            "ON CONFLICT (request_id) DO NOTHING RETURNING id, row_sha256"
        )
        added = sorted(cursor.fetchall())  # by id: the order verification reads them back in
        for _, row_hash in added:
            self.digest.add(row_hash)
        self.accepted += len(added)
        self.duplicates += self._chunk_rows - len(added)

    def _references_ensure(self) -> None:
        _accounts_ensure(self._chunk_accounts)
        self._ensured_accounts |= self._chunk_accounts
        self._chunk_accounts = set()
        if self._chunk_keys:
            firsts = self._chunk_keys.values()
            self._cursor.execute(
                _API_KEYS_SQL,
                [
                    self.batch_id,
                    list(self._chunk_keys),
                    [account for account, _ in firsts],
                    [ts for _, ts in firsts],
                ],
            )
            self._ensured_keys |= set(self._chunk_keys)
            self._chunk_keys = {}


class AccountLoader:
    """Account profiles: new ones are added, stubs filled in, changed ones updated.

    Every profile recorded, first or changed, is also a new `AccountVersion` (in the order
    the batch digest covers them), so a changed profile never loses the one before it. An
    account under an active legal hold keeps its profile: a line that would change it is
    rejected with the hold named, and the rest of the file loads.
    """

    def __init__(self, *, batch: IngestBatch, chunk_rows: int) -> None:
        self.chunk_rows = chunk_rows
        self.batch = batch
        self.digest = RowDigest()
        self.accepted = 0
        self.duplicates = 0
        self.versions = 0
        self.updated: list[dict[str, str]] = []
        self._chunk: dict[str, dict[str, Any]] = {}
        self._held = self._held_profiles()

    @staticmethod
    def _held_profiles() -> dict[str, tuple[str, list[str]]]:
        """Each held account's content hash and the references holding it. Read once: holds
        are few, and the database refuses the change anyway if one is placed meanwhile."""
        held: dict[str, tuple[str, list[str]]] = {}
        holds = (
            PreservationHold.objects.filter(released_at__isnull=True, account__isnull=False)
            .order_by("reference")
            .values_list("account__account_id", "account__content_sha256", "reference")
        )
        for account_id, content, reference in holds:
            references = held.setdefault(account_id, (content, []))[1]
            if reference not in references:
                references.append(reference)
        return held

    def add(self, row: dict[str, Any]) -> None:
        """Queue one validated profile; `RecordError` if it would change a held account."""
        held = self._held.get(row["account_id"])
        if held is not None and held[0] != row["content_sha256"]:
            raise RecordError(
                "account_id",
                f"account {row['account_id']} is under legal hold by {', '.join(held[1])}; "
                "its profile is not changed",
            )
        if row["account_id"] in self._chunk:
            self._chunk_close()  # the same account twice: apply the earlier one first
        self._chunk[row["account_id"]] = row
        if len(self._chunk) >= self.chunk_rows:
            self._chunk_close()

    def finish(self) -> None:
        self._chunk_close()

    def _chunk_close(self) -> None:
        if not self._chunk:
            return
        existing = {
            a.account_id: a for a in Account.objects.filter(account_id__in=list(self._chunk))
        }
        latest = dict(
            AccountVersion.objects.filter(account__in=existing.values())
            .values("account_id")
            .annotate(latest=Max("version"))
            .values_list("account_id", "latest")
        )
        new, changed, recorded = [], [], []
        for account_id, row in self._chunk.items():
            account = existing.get(account_id)
            if account is None:
                account = Account(account_id=account_id)
                new.append(account)
            elif account.content_sha256 == row["content_sha256"]:
                self.duplicates += 1
                continue
            else:
                if not account.seen_only_in_usage:
                    self.updated.append(
                        {"account_id": account_id, "previous_sha256": account.content_sha256}
                    )
                changed.append(account)
            for name in ACCOUNT_PROFILE_FIELDS:
                setattr(account, name, row[name])
            account.content_sha256 = row["content_sha256"]
            account.seen_only_in_usage = False
            account.batch = self.batch
            recorded.append((account, latest.get(account.pk, 0) + 1))
            self.digest.add(row["content_sha256"])
            self.accepted += 1
        Account.objects.bulk_create(new, batch_size=2000)
        Account.objects.bulk_update(
            changed,
            [*ACCOUNT_PROFILE_FIELDS, "content_sha256", "seen_only_in_usage", "batch"],
            batch_size=2000,
        )
        now = timezone.now()
        # In the digest's order: verification rebuilds the batch digest from these rows.
        AccountVersion.objects.bulk_create(
            [
                AccountVersion(
                    account=account,
                    version=number,
                    **{name: getattr(account, name) for name in ACCOUNT_PROFILE_FIELDS},
                    content_sha256=account.content_sha256,
                    batch=self.batch,
                    recorded_at=now,
                )
                for account, number in recorded
            ],
            batch_size=2000,
        )
        self.versions += len(recorded)
        self._chunk = {}


class RowLoader:
    """Validated rows of one file, written a chunk at a time (`_chunk_close`): the counts
    and the batch digest every loader gives the ingest."""

    def __init__(self, *, batch: IngestBatch, chunk_rows: int) -> None:
        self.chunk_rows = chunk_rows
        self.batch = batch
        self.digest = RowDigest()
        self.accepted = 0
        self.duplicates = 0
        self._chunk: list[Any] = []

    def add(self, row: dict[str, Any]) -> None:
        self._chunk.append(row)
        if len(self._chunk) >= self.chunk_rows:
            self._chunk_close()

    def finish(self) -> None:
        self._chunk_close()

    def _chunk_close(self) -> None:
        raise NotImplementedError


class AssentLoader(RowLoader):
    """Assent records: each acceptance once; linked to its Terms version when imported."""

    def __init__(self, *, batch: IngestBatch, chunk_rows: int) -> None:
        super().__init__(batch=batch, chunk_rows=chunk_rows)
        self._versions = {
            (slug, label): pk
            for pk, slug, label in TermsVersion.objects.values_list("pk", "document__slug", "label")
        }

    def _chunk_close(self) -> None:
        if not self._chunk:
            return
        pks = _accounts_named(self._chunk)
        seen = set(
            AssentRecord.objects.filter(account_id__in=pks.values()).values_list(
                "account_id", "terms_slug", "version_label", "accepted_at"
            )
        )
        records = []
        for row in self._chunk:
            key = (
                pks[row["account_id"]],
                row["terms_slug"],
                row["version_label"],
                row["accepted_at"],
            )
            if key in seen:
                self.duplicates += 1
                continue
            seen.add(key)
            fields = {k: v for k, v in row.items() if k != "account_id"}
            records.append(
                AssentRecord(
                    **fields,
                    account_id=key[0],
                    terms_version_id=self._versions.get((row["terms_slug"], row["version_label"])),
                    batch=self.batch,
                )
            )
            self.digest.add(row["content_sha256"])
        AssentRecord.objects.bulk_create(records, batch_size=2000)
        self.accepted += len(records)
        self._chunk = []


class ProbeLoader(RowLoader):
    """Probe exchanges: each probe id once. The same exchange again is a duplicate; a
    different exchange under an id already on record is rejected by its line, because two
    transcripts under one id would let either be cited for the other."""

    def __init__(self, *, batch: IngestBatch, chunk_rows: int) -> None:
        super().__init__(batch=batch, chunk_rows=chunk_rows)
        # Read once: probe files are investigators' captures, thousands of lines, not logs.
        self._known = dict(ProbeExchange.objects.values_list("probe_id", "content_sha256"))

    def add(self, row: dict[str, Any]) -> None:
        known = self._known.get(row["probe_id"])
        if known == row["content_sha256"]:
            self.duplicates += 1
            return
        if known is not None:
            raise RecordError(
                "probe_id",
                f"probe {row['probe_id']} is already on record with a different exchange; "
                "give the new capture its own probe id",
            )
        self._known[row["probe_id"]] = row["content_sha256"]
        self.digest.add(row["content_sha256"])
        super().add(row)

    def _chunk_close(self) -> None:
        exchanges = [ProbeExchange(**row, batch=self.batch) for row in self._chunk]
        ProbeExchange.objects.bulk_create(exchanges, batch_size=2000)
        self.accepted += len(self._chunk)
        self._chunk = []


class ServeLoader(RowLoader):
    """The gateway's canary serve log: each (canary, request) once; a line naming a canary
    Pacta never generated is rejected, since nothing could later be matched against it."""

    def __init__(self, *, batch: IngestBatch, chunk_rows: int) -> None:
        super().__init__(batch=batch, chunk_rows=chunk_rows)
        self._canaries = dict(Canary.objects.values_list("canary_id", "pk"))

    def add(self, row: dict[str, Any]) -> None:
        if row["canary_id"] not in self._canaries:
            raise RecordError("canary_id", f"no canary {row['canary_id']} was generated by Pacta")
        super().add(row)

    def _chunk_close(self) -> None:
        if not self._chunk:
            return
        pks = _accounts_named(self._chunk)
        canaries = {self._canaries[row["canary_id"]] for row in self._chunk}
        seen = set(
            CanaryServe.objects.filter(canary_id__in=canaries).values_list(
                "canary_id", "request_id"
            )
        )
        serves = []
        for row in self._chunk:
            key = (self._canaries[row["canary_id"]], row["request_id"])
            if key in seen:
                self.duplicates += 1
                continue
            seen.add(key)
            serves.append(
                CanaryServe(
                    canary_id=key[0],
                    request_id=row["request_id"],
                    account_id=pks[row["account_id"]],
                    served_at=row["served_at"],
                    content_sha256=row["content_sha256"],
                    batch=self.batch,
                )
            )
            self.digest.add(row["content_sha256"])
        CanaryServe.objects.bulk_create(serves, batch_size=2000)
        self.accepted += len(serves)
        self._chunk = []


class BillingLoader(RowLoader):
    """Billing records: each (kind, billing id) once. The same record again is a duplicate;
    a different record under an id already on record is rejected by its line, because two
    invoices under one number would let either be cited for the other."""

    def __init__(self, *, batch: IngestBatch, chunk_rows: int) -> None:
        super().__init__(batch=batch, chunk_rows=chunk_rows)
        # Read once, like the probe ids: a billing export is an account's invoices and
        # payments, thousands of lines a month, not a request log.
        self._known = {
            (kind, billing_id): content
            for kind, billing_id, content in BillingRecord.objects.values_list(
                "kind", "billing_id", "content_sha256"
            )
        }

    def add(self, row: dict[str, Any]) -> None:
        key = (row["kind"], row["billing_id"])
        known = self._known.get(key)
        if known == row["content_sha256"]:
            self.duplicates += 1
            return
        if known is not None:
            raise RecordError(
                "billing_id",
                f"{row['kind']} {row['billing_id']} is already on record with different "
                "content; a corrected record needs its own id",
            )
        self._known[key] = row["content_sha256"]
        self.digest.add(row["content_sha256"])
        super().add(row)

    def _chunk_close(self) -> None:
        if not self._chunk:
            return
        pks = _accounts_named(self._chunk)
        BillingRecord.objects.bulk_create(
            [
                BillingRecord(
                    **{k: v for k, v in row.items() if k != "account_id"},
                    account_id=pks[row["account_id"]],
                    batch=self.batch,
                )
                for row in self._chunk
            ],
            batch_size=2000,
        )
        self.accepted += len(self._chunk)
        self._chunk = []


LOADERS = {
    "usage": UsageLoader,
    "accounts": AccountLoader,
    "assent": AssentLoader,
    "probes": ProbeLoader,
    "serves": ServeLoader,
    "billing": BillingLoader,
}
