"""Integrity checks of the record: every row, file and text against the hash it was given,
and every digest against the value the ledger recorded when the evidence came in.

Each check recomputes hashes with the same canonical forms that were used when the record
was made (`evidence.custody.canonical`) and returns the failures it found, each naming the
object, its id, the reason, and the expected and found hashes; where the ledger recorded
a value (`evidence.custody.anchors`), that value is the one expected, so rewriting a row
together with the hashes stored beside it is still caught. `verification` runs them all
and records the outcome.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterator
from typing import Any

import orjson
from django.db import connection, transaction

from evidence.custody.anchors import (
    BatchAnchor,
    batches_ingested,
    files_collected,
    files_deleted,
    terms_imported,
)
from evidence.custody.canonical import (
    ACCOUNT_HASHED,
    ASSENT_HASHED,
    BILLING_HASHED,
    CANARY_MATCH_HASHED,
    PROBE_HASHED,
    SERVE_HASHED,
    RowDigest,
    clauses_digest,
    content_sha256,
    file_sha256,
    params_canonical,
    sha256_hex,
    text_sha256,
    usage_row_canonical_text,
)
from evidence.models import (
    Account,
    AccountVersion,
    AssentRecord,
    AssentScreen,
    BillingRecord,
    Canary,
    CanaryMatch,
    CanaryServe,
    Clause,
    EvidenceItem,
    IngestBatch,
    LedgerEntry,
    ProbeExchange,
    TermsVersion,
)

FETCH = 20_000
EMPTY_DIGEST = RowDigest().hexdigest()


class Failures:
    """Failures of one check, capped in detail but always counted."""

    def __init__(self, cap: int = 100) -> None:
        self.cap = cap
        self.items: list[dict[str, Any]] = []
        self.total = 0

    def add(self, obj: str, obj_id: Any, reason: str, expected: Any, found: Any) -> None:
        self.total += 1
        if len(self.items) < self.cap:
            self.items.append(
                {
                    "object": obj,
                    "id": obj_id,
                    "reason": reason,
                    "expected": expected,
                    "found": found,
                }
            )


def _stream(sql: str) -> Iterator[tuple]:
    """Rows of `sql` through a server-side cursor: a million rows never sit in memory."""
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH):
            yield from rows


# Every hashed column as the text the canonical form uses; timestamps rendered exactly as
# `canonical.utc_iso` renders them, so PostgreSQL does the formatting.
_USAGE_SQL = """
SELECT id, batch_id, row_sha256, request_id,
       to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
       account_id, api_key_id, model, endpoint, input_tokens::text, output_tokens::text,
       host(source_ip), user_agent, end_user, params::text, prompt_sha256,
       prompt_template_key, prompt_excerpt, prompt_text, status::text
FROM evidence_usageevent ORDER BY id
"""
_PURGED_SQL = "SELECT id, batch_id, row_sha256 FROM evidence_purgedusagerow ORDER BY id"


def usage_verify(failures: Failures) -> dict[str, int]:
    """Every usage row against its own hash; every usage batch against its digest.

    Rows are read in id order (insertion order), so each batch's digest is rebuilt as it
    was written even when batches interleave. Rows purged under retention contribute the
    hashes they left behind.
    """
    expected = dict(
        IngestBatch.objects.filter(kind="usage", status="committed").values_list(
            "pk", "rows_digest"
        )
    )
    anchors = batches_ingested()
    digests: dict[int, RowDigest] = {}
    counts: dict[int, int] = {}
    live = _stream(_USAGE_SQL)
    purged = (
        (row_id, batch_id, row_hash, None) for row_id, batch_id, row_hash in _stream(_PURGED_SQL)
    )
    rows = 0
    for values in heapq.merge(live, purged, key=lambda row: row[0]):
        batch_id, row_hash = values[1], values[2]
        digest = digests.get(batch_id)
        if digest is None:
            digest = digests[batch_id] = RowDigest()
        digest.add(row_hash)
        counts[batch_id] = counts.get(batch_id, 0) + 1
        if values[3] is None:
            continue  # a purged row: only its hash remains
        rows += 1
        parts = [v if v is not None else "" for v in values[3:]]
        ip = parts[8]
        if ":" in ip:  # IPv6: the form ingest stored (Python's) may differ from host()
            parts[8] = str(ipaddress.ip_address(ip))
        parts[11] = params_canonical(orjson.loads(parts[11]))
        found = sha256_hex(usage_row_canonical_text(parts))
        if found != row_hash:
            failures.add(
                "usage_event",
                parts[0],
                "the row's content no longer matches its hash",
                row_hash,
                found,
            )
    for batch_id in _batch_ids("usage", expected, anchors, digests):
        batch_check(
            failures,
            batch_id,
            stored=expected.get(batch_id),
            anchor=anchors.get(batch_id),
            found=digests[batch_id].hexdigest() if batch_id in digests else EMPTY_DIGEST,
            rows=counts.get(batch_id, 0),
            what="rows",
        )
    orphans = _stream(
        "SELECT u.request_id FROM evidence_usageevent u "
        "LEFT JOIN evidence_account a ON a.account_id = u.account_id WHERE a.id IS NULL LIMIT 100"
    )
    for (request_id,) in orphans:
        failures.add("usage_event", request_id, "the row's account is missing", None, None)
    return {"usage_rows": rows, "usage_batches": len(expected)}


def batch_check(
    failures: Failures,
    batch_id: int,
    *,
    stored: str | None,
    anchor: BatchAnchor | None,
    found: str,
    rows: int,
    what: str,
) -> None:
    """One batch's rows (their digest `found`, their count `rows`) against the digest and
    count its "ingested" ledger entry recorded, and the digest stored on the batch row.

    The ledger is the reference: a forger who rewrites rows, their hashes and the batch's
    stored digest alike is named here, with the ledger's value as the one expected.
    """
    if stored is None:  # no committed batch of this kind has the id
        if anchor is not None and anchor.status == IngestBatch.Status.COMMITTED:
            reason = f"the committed batch its ledger entry {anchor.seq} recorded is not on record"
        else:
            reason = "rows belong to a batch that is not on record"
        failures.add(
            "ingest_batch", batch_id, reason, anchor.rows_digest if anchor else None, found
        )
        return
    if anchor is None:
        failures.add(
            "ingest_batch", batch_id, "no ledger entry records the ingest of this batch", stored,
            found,
        )  # fmt: skip
        return
    # One failure per batch: the digest covers the count, so a count is reported on its own
    # only if the digest somehow still matched.
    if found != anchor.rows_digest:
        failures.add(
            "ingest_batch",
            batch_id,
            f"the batch's {what} no longer match its digest (a row was added, removed or changed)",
            anchor.rows_digest,
            found,
        )
    elif rows != anchor.accepted:
        failures.add(
            "ingest_batch",
            batch_id,
            f"the batch holds {rows} {what} where its ledger entry {anchor.seq} recorded "
            f"{anchor.accepted}",
            anchor.accepted,
            rows,
        )
    elif stored != anchor.rows_digest:
        failures.add(
            "ingest_batch",
            batch_id,
            f"the batch's stored digest differs from the one its ledger entry {anchor.seq} "
            "recorded",
            anchor.rows_digest,
            stored,
        )


def _committed(kind: str) -> dict[int, str]:
    return dict(
        IngestBatch.objects.filter(kind=kind, status="committed").values_list("pk", "rows_digest")
    )


def _batch_ids(kind: str, stored: dict, anchors: dict[int, BatchAnchor], found: dict) -> list:
    """Every batch of `kind` to check: committed on record, committed in the ledger (a batch
    row removed with its rows is still missed), or named by a row."""
    ledgered = {
        pk
        for pk, anchor in anchors.items()
        if anchor.kind == kind and anchor.status == IngestBatch.Status.COMMITTED
    }
    return sorted(set(stored) | ledgered | set(found))


def assent_verify(failures: Failures) -> dict[str, int]:
    """Every assent record against its content hash; every assent batch's records against
    the digest and count its ledger entry recorded."""
    expected = _committed("assent")
    anchors = batches_ingested()
    digests: dict[int, RowDigest] = {}
    counts: dict[int, int] = {}
    count = 0
    fields = [name for name in ASSENT_HASHED if name != "account_id"]
    rows = (
        AssentRecord.objects.order_by("id")
        .values_list("id", "batch_id", "content_sha256", "account__account_id", *fields)
        .iterator(chunk_size=FETCH)
    )
    for row_id, batch_id, recorded, account_id, *values in rows:
        count += 1
        row = dict(zip(fields, values, strict=True), account_id=account_id)
        row["ip"] = str(row["ip"]) if row["ip"] is not None else None
        found = content_sha256(row, ASSENT_HASHED)
        if found != recorded:
            failures.add(
                "assent_record", row_id, "the record no longer matches its hash", recorded, found
            )
        if batch_id is not None:
            # The record's own hash as stored: a record edited with its hash is then caught
            # by the digest, and one edited without it by the line above, not twice.
            digests.setdefault(batch_id, RowDigest()).add(recorded)
            counts[batch_id] = counts.get(batch_id, 0) + 1
    for batch_id in _batch_ids("assent", expected, anchors, digests):
        batch_check(
            failures,
            batch_id,
            stored=expected.get(batch_id),
            anchor=anchors.get(batch_id),
            found=digests[batch_id].hexdigest() if batch_id in digests else EMPTY_DIGEST,
            rows=counts.get(batch_id, 0),
            what="assent records",
        )
    return {"assent_records": count}


def _batched_rows_verify(
    failures: Failures, *, kind: str, model: Any, columns: tuple[str, ...], hashed: tuple[str, ...]
) -> int:
    """Rows of one ingest kind against their own hashes (`columns`, read in the order of the
    `hashed` fields they give), and each batch's rows against the digest and count its
    ledger entry recorded."""
    expected = _committed(kind)
    anchors = batches_ingested()
    digests: dict[int, RowDigest] = {}
    counts: dict[int, int] = {}
    count = 0
    rows = (
        model.objects.order_by("id")
        .values_list("id", "batch_id", "content_sha256", *columns)
        .iterator(chunk_size=FETCH)
    )
    for row_id, batch_id, recorded, *values in rows:
        count += 1
        found = content_sha256(dict(zip(hashed, values, strict=True)), hashed)
        if found != recorded:
            failures.add(
                model._meta.model_name, row_id, "the record no longer matches its hash", recorded,
                found,
            )  # fmt: skip
        digests.setdefault(batch_id, RowDigest()).add(recorded)
        counts[batch_id] = counts.get(batch_id, 0) + 1
    for batch_id in _batch_ids(kind, expected, anchors, digests):
        batch_check(
            failures,
            batch_id,
            stored=expected.get(batch_id),
            anchor=anchors.get(batch_id),
            found=digests[batch_id].hexdigest() if batch_id in digests else EMPTY_DIGEST,
            rows=counts.get(batch_id, 0),
            what=str(model._meta.verbose_name_plural),
        )
    return count


def probes_verify(failures: Failures) -> dict[str, int]:
    """Every probe transcript against its hash; every probes batch against its ledger entry."""
    count = _batched_rows_verify(
        failures, kind="probes", model=ProbeExchange, columns=PROBE_HASHED, hashed=PROBE_HASHED
    )
    return {"probe_exchanges": count}


def serves_verify(failures: Failures) -> dict[str, int]:
    """Every canary serve against its hash; every serve-log batch against its ledger entry."""
    columns = ("canary__canary_id", "request_id", "account__account_id", "served_at")
    count = _batched_rows_verify(
        failures, kind="serves", model=CanaryServe, columns=columns, hashed=SERVE_HASHED
    )
    return {"canary_serves": count}


def billing_verify(failures: Failures) -> dict[str, int]:
    """Every billing record against its hash; every billing batch against its ledger entry."""
    columns = ("account__account_id", *BILLING_HASHED[1:])
    count = _batched_rows_verify(
        failures, kind="billing", model=BillingRecord, columns=columns, hashed=BILLING_HASHED
    )
    return {"billing_records": count}


def canaries_verify(failures: Failures) -> dict[str, int]:
    """Every canary's text against its SHA-256, and every recorded canary match (the canary,
    the probe, the accounts it ties, the chance, the quote) against its hash."""
    canaries = 0
    for canary_id, text, recorded in Canary.objects.order_by("pk").values_list(
        "canary_id", "text", "sha256"
    ):
        canaries += 1
        found = sha256_hex(text.encode("utf-8"))
        if found != recorded:
            failures.add(
                "canary", canary_id, "the text no longer matches its hash", recorded, found
            )
    matches = 0
    rows = CanaryMatch.objects.order_by("pk").values_list(
        "pk", "content_sha256", "canary__canary_id", "exchange__probe_id", "accounts", "serves",
        "chance", "method", "quote",
    )  # fmt: skip
    for pk, recorded, *values in rows.iterator(chunk_size=FETCH):
        matches += 1
        found = content_sha256(
            dict(zip(CANARY_MATCH_HASHED, values, strict=True)), CANARY_MATCH_HASHED
        )
        if found != recorded:
            failures.add(
                "canary_match", pk, "the match no longer matches its hash", recorded, found
            )
    return {"canaries": canaries, "canary_matches": matches}


_PROFILE = [name for name in ACCOUNT_HASHED if name != "account_id"]


def _profile_sha256(account_id: str, values: list[Any]) -> str:
    row = dict(zip(_PROFILE, values, strict=True), account_id=account_id)
    row["signup_ip"] = str(row["signup_ip"]) if row["signup_ip"] is not None else None
    return content_sha256(row, ACCOUNT_HASHED)


def accounts_verify(failures: Failures) -> dict[str, int]:
    """Every recorded profile version against its hash, each accounts batch's versions
    against its ledger entry, and every account against its latest version.

    A version's hash is anchored by its batch's digest in the ledger; an account's current
    profile must be its latest version, so a profile rewritten with a recomputed hash is
    named with the recorded version's hash as the one expected. Versions recorded before
    the ledger counted them (`account_versions`) can be checked against their own hash
    only: they are counted as `account_versions_unanchored`.
    """
    expected = _committed("accounts")
    anchors = batches_ingested()
    digests: dict[int, RowDigest] = {}
    counts: dict[int, int] = {}
    latest: dict[int, tuple[int, str, int | None]] = {}
    versions = unanchored = 0
    rows = (
        AccountVersion.objects.order_by("id")
        .values_list(
            "account_id", "account__account_id", "version", "batch_id", "content_sha256", *_PROFILE
        )
        .iterator(chunk_size=FETCH)
    )
    for pk, account_id, number, batch_id, recorded, *values in rows:
        versions += 1
        found = _profile_sha256(account_id, values)
        if found != recorded:
            failures.add(
                "account_version",
                f"{account_id} version {number}",
                "the recorded profile version no longer matches its hash",
                recorded,
                found,
            )
        if pk not in latest or number > latest[pk][0]:
            latest[pk] = (number, recorded, batch_id)
        if batch_id is None:
            unanchored += 1
        else:
            digests.setdefault(batch_id, RowDigest()).add(recorded)
            counts[batch_id] = counts.get(batch_id, 0) + 1
    for batch_id in _batch_ids("accounts", expected, anchors, digests):
        anchor = anchors.get(batch_id)
        if anchor is not None and anchor.account_versions is None:
            unanchored += counts.get(batch_id, 0)  # recorded before versions were kept
            continue
        batch_check(
            failures,
            batch_id,
            stored=expected.get(batch_id),
            anchor=anchor,
            found=digests[batch_id].hexdigest() if batch_id in digests else EMPTY_DIGEST,
            rows=counts.get(batch_id, 0),
            what="account profile versions",
        )
    count = 0
    accounts = (
        Account.objects.order_by("id")
        .values_list("id", "account_id", "seen_only_in_usage", "content_sha256", *_PROFILE)
        .iterator(chunk_size=FETCH)
    )
    for pk, account_id, stub, stored, *values in accounts:
        count += 1
        version = latest.get(pk)
        if version is None:
            if not stub:
                failures.add(
                    "account",
                    account_id,
                    "the account has a profile but no recorded version of it",
                    None,
                    _profile_sha256(account_id, values),
                )
            continue
        number, recorded, batch_id = version
        found = _profile_sha256(account_id, values)
        where = f"version {number}" + (f", batch {batch_id}" if batch_id else "")
        if found != recorded:
            failures.add(
                "account",
                account_id,
                f"the profile no longer matches its latest recorded version ({where})",
                recorded,
                found,
            )
        elif stored != recorded:
            failures.add(
                "account",
                account_id,
                f"the stored content hash differs from the latest recorded version ({where})",
                recorded,
                stored,
            )
    return {
        "accounts": count,
        "account_versions": versions,
        "account_versions_unanchored": unanchored,
    }


def terms_verify(failures: Failures) -> dict[str, int]:
    """Every Terms version's text and every clause's text against their hashes, and both
    against the version's "imported" ledger entry (its text hash, clause count and clause
    digest). Clauses of versions imported before the digest was recorded are checked
    against their own hashes and their count only (`clauses_unanchored`)."""
    anchors = terms_imported()
    clauses = unanchored = 0
    present: set[int] = set()
    for pk, text, recorded in TermsVersion.objects.values_list("pk", "text", "text_sha256"):
        present.add(pk)
        found = text_sha256(text)
        anchor = anchors.get(pk)
        if anchor is None:
            failures.add("terms_version", pk, "no ledger entry records the import", recorded, found)
        elif found != anchor.text_sha256:
            failures.add(
                "terms_version",
                pk,
                f"the text no longer matches the hash its ledger entry {anchor.seq} recorded",
                anchor.text_sha256,
                found,
            )
        elif recorded != anchor.text_sha256:
            failures.add(
                "terms_version",
                pk,
                f"the stored hash differs from the one its ledger entry {anchor.seq} recorded",
                anchor.text_sha256,
                recorded,
            )
    by_version: dict[int, list[tuple[str, str]]] = {}
    rows = (
        Clause.objects.order_by("version_id", "position")
        .values_list("pk", "version_id", "path", "text", "text_sha256")
        .iterator(chunk_size=FETCH)
    )
    for pk, version_id, path, text, recorded in rows:
        clauses += 1
        found = text_sha256(text)
        if found != recorded:
            failures.add(
                "clause", pk, "the clause text no longer matches its hash", recorded, found
            )
        by_version.setdefault(version_id, []).append((path, found))
    for version_id in sorted(anchors):
        anchor = anchors[version_id]
        if version_id not in present:
            failures.add(
                "terms_version",
                version_id,
                f"the version its ledger entry {anchor.seq} recorded is not on record",
                anchor.text_sha256,
                None,
            )
            continue
        stored = by_version.get(version_id, [])
        if len(stored) != anchor.clauses:
            failures.add(
                "terms_version",
                version_id,
                f"the version has {len(stored)} clauses where its ledger entry {anchor.seq} "
                f"recorded {anchor.clauses}",
                anchor.clauses,
                len(stored),
            )
        if anchor.clauses_digest is None:
            unanchored += len(stored)
            continue
        found = clauses_digest(stored)
        if found != anchor.clauses_digest:
            failures.add(
                "terms_version",
                version_id,
                f"the clauses no longer match the digest its ledger entry {anchor.seq} "
                "recorded (a clause was added, removed, moved or reworded)",
                anchor.clauses_digest,
                found,
            )
    return {
        "terms_versions": len(present),
        "clauses": clauses,
        "clauses_unanchored": unanchored,
    }


def assent_screens_verify(failures: Failures) -> dict[str, int]:
    """Each screen accounts saw against its file and its ledger entry: the hash the assent
    records are joined on must be the hash of the file kept and the one `linked` recorded
    (the file's own bytes are checked by `files_verify`)."""
    linked = dict(
        LedgerEntry.objects.filter(object_type="assent_screen", action=LedgerEntry.Action.LINKED)
        .order_by("seq")
        .values_list("object_id", "object_sha256")
    )
    count = 0
    for screen in AssentScreen.objects.select_related("item").order_by("pk").iterator():
        count += 1
        recorded = linked.get(str(screen.pk))
        if recorded is None:
            failures.add(
                "assent_screen", screen.pk, "no ledger entry records it", None, screen.sha256
            )
        elif recorded != screen.sha256:
            failures.add(
                "assent_screen", screen.pk, "its hash differs from the one its ledger entry "
                "recorded", recorded, screen.sha256,
            )  # fmt: skip
        elif screen.item.sha256 != screen.sha256:
            failures.add(
                "assent_screen", screen.pk, f"its hash differs from its file's "
                f"({screen.item.file_name})", screen.sha256, screen.item.sha256,
            )  # fmt: skip
    return {"assent_screens": count}


def files_verify(failures: Failures) -> dict[str, int]:
    """Every evidence file's bytes (rejects, exhibits, report PDFs) against the SHA-256 its
    "collected" ledger entry recorded, and the hash stored beside it."""
    anchors = files_collected()
    count = 0
    for item in EvidenceItem.objects.order_by("pk").iterator(chunk_size=1000):
        count += 1
        anchor = anchors.get(item.pk)
        expected = anchor.sha256 if anchor is not None else item.sha256
        try:
            with item.file.open("rb") as stored:
                found = file_sha256(stored)[0]
        except FileNotFoundError:
            failures.add("evidence_item", item.pk, "the file is missing", expected, None)
            continue
        if anchor is None:
            failures.add(
                "evidence_item", item.pk, "no ledger entry records its collection", None, found
            )
        elif found != anchor.sha256:
            failures.add(
                "evidence_item",
                item.pk,
                f"the file {item.file_name} no longer matches the hash its ledger entry "
                f"{anchor.seq} recorded",
                anchor.sha256,
                found,
            )
        elif item.sha256 != anchor.sha256:
            failures.add(
                "evidence_item",
                item.pk,
                f"the stored hash of {item.file_name} differs from the one its ledger entry "
                f"{anchor.seq} recorded",
                anchor.sha256,
                item.sha256,
            )
    kept = set(EvidenceItem.objects.values_list("pk", flat=True))
    for pk in sorted(set(anchors) - kept - files_deleted()):
        failures.add(
            "evidence_item",
            pk,
            f"the file its ledger entry {anchors[pk].seq} recorded is gone, and no deletion "
            "of it is on record",
            anchors[pk].sha256,
            None,
        )
    return {"evidence_files": count}


def usage_batches_verify() -> dict[str, Any]:
    """The usage check on its own: {"ok", "rows_checked", "batches_checked", "failures"}."""
    failures = Failures()
    counts = usage_verify(failures)
    return {
        "ok": not failures.total,
        "rows_checked": counts["usage_rows"],
        "batches_checked": counts["usage_batches"],
        "failures": failures.items,
    }
