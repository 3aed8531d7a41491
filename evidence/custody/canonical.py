"""Canonical forms and hashes: one definition, used when a record is made and when it is verified.

A hash is only evidence if it can be recomputed the same way years later; so every hash in
Pacta is SHA-256 over a byte string built by a function in this module, and both the code
that writes a record and the code that verifies it call the same function.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any, BinaryIO

import orjson

GENESIS_HASH = "0" * 64


# Files are hashed a chunk at a time: evidence files and ingest uploads can be gigabytes.
FILE_CHUNK = 1024 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_sha256(text: str) -> str:
    """The hash of a text as recorded (a Terms version's or a clause's): SHA-256 of its UTF-8."""
    return sha256_hex(text.encode("utf-8"))


def file_sha256(fh: BinaryIO, *, copy_to: BinaryIO | None = None) -> tuple[str, int]:
    """The SHA-256 and size of a file's bytes, read a chunk at a time from where `fh` stands.

    With `copy_to`, each chunk is also written there, so a file can be kept and hashed in
    one pass and the hash is of exactly the bytes that were kept.
    """
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: fh.read(FILE_CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return digest.hexdigest(), size


def canonical_json(value: Any, default=None) -> str:
    """JSON with sorted keys and no insignificant whitespace (stable across runs and hosts)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
    )


def json_native(value: Any) -> Any:
    """`value` as it will read back from a jsonb column (dates and decimals become strings)."""
    return json.loads(json.dumps(value, default=str))


def utc_iso(value: dt.datetime | None) -> str:
    """A timestamp as ISO-8601 UTC with microseconds, the form every hash uses."""
    if value is None:
        return ""
    if value.tzinfo is None:
        raise ValueError("naive datetime in evidence: every timestamp must carry its zone")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def instant_sql(column: str) -> str:
    """SQL for a timestamp as whole microseconds since the epoch, exact (extract returns
    numeric). Reading tens of thousands of timestamps through the driver's Python-level
    parser (what Django installs) costs ~10-25 us each; an integer converts back exactly
    with `instant` in one addition."""
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"


def instant(microseconds: int | None) -> dt.datetime | None:
    """The UTC timestamp `instant_sql` encoded."""
    return None if microseconds is None else _EPOCH + dt.timedelta(microseconds=microseconds)


# The usage columns a row hash covers, in order. `batch` and `row_sha256` are provenance
# and are checked through the batch digest instead.
USAGE_HASHED_FIELDS = (
    "request_id",
    "ts",
    "account_id",
    "api_key_id",
    "model",
    "endpoint",
    "input_tokens",
    "output_tokens",
    "source_ip",
    "user_agent",
    "end_user",
    "params",
    "prompt_sha256",
    "prompt_template_key",
    "prompt_excerpt",
    "prompt_text",
    "status",
)


def params_canonical(params: dict[str, Any] | None) -> str:
    """Request parameters as canonical JSON (orjson, sorted keys): hashed and stored alike."""
    return orjson.dumps(params or {}, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def usage_row_canonical(row: dict[str, Any]) -> bytes:
    """The canonical bytes of a usage row: typed values, fixed order, unit-separated."""
    return usage_row_canonical_parts(row, utc_iso(row["ts"]), params_canonical(row["params"]))


def usage_row_canonical_parts(row: dict[str, Any], ts_iso: str, params_json: str) -> bytes:
    """`usage_row_canonical` with the timestamp and params already in canonical form.

    Ingest formats both once per row and reuses them for the COPY, so it calls this
    directly; verification goes through `usage_row_canonical_text`. Written out field by
    field because it runs for every row.
    """
    ip = row["source_ip"]
    status = row["status"]
    return usage_row_canonical_text(
        (
            row["request_id"],
            ts_iso,
            row["account_id"],
            row["api_key_id"],
            row["model"],
            row["endpoint"],
            str(row["input_tokens"]),
            str(row["output_tokens"]),
            "" if ip is None else str(ip),
            row["user_agent"],
            row["end_user"],
            params_json,
            row["prompt_sha256"],
            row["prompt_template_key"],
            row["prompt_excerpt"],
            row["prompt_text"],
            "" if status is None else str(status),
        )
    )


def usage_row_canonical_text(parts: Sequence[str]) -> bytes:
    """The canonical bytes from the row's values already as text, in USAGE_HASHED_FIELDS
    order: joined by the ASCII unit separator, UTF-8 encoded."""
    return "\x1f".join(parts).encode("utf-8", "surrogatepass")


def usage_row_sha256(row: dict[str, Any]) -> str:
    return sha256_hex(usage_row_canonical(row))


class RowDigest:
    """The digest of a batch, computed as its rows are added: SHA-256 over the rows'
    hashes, one per line, in insertion order."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def add(self, row_hash: str) -> None:
        self._sha.update(row_hash.encode("ascii"))
        self._sha.update(b"\n")

    def add_lines(self, hash_lines: bytes) -> None:
        """Add many rows at once: their hashes in order, each followed by b"\\n"."""
        self._sha.update(hash_lines)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def rows_digest(row_hashes: Iterable[str]) -> str:
    """The digest of a batch from its rows' hashes, in insertion order."""
    digest = RowDigest()
    for row_hash in row_hashes:
        digest.add(row_hash)
    return digest.hexdigest()


def clauses_digest(clauses: Iterable[tuple[str, str]]) -> str:
    """The digest of a Terms version's clauses: SHA-256 of the (path, text hash) pairs in
    position order, as canonical JSON. The import's ledger entry records it, so each
    clause's words are anchored where they were first recorded, not only beside the row."""
    pairs = [[path, text_hash] for path, text_hash in clauses]
    return sha256_hex(canonical_json(pairs).encode("utf-8"))


def content_sha256(row: dict[str, Any], fields: tuple[str, ...]) -> str:
    """SHA-256 of a profile-like record (an account, an assent): the named fields as
    canonical JSON, times in UTC."""
    content = {
        name: utc_iso(row[name]) if isinstance(row[name], dt.datetime) else row[name]
        for name in fields
    }
    return sha256_hex(canonical_json(content).encode("utf-8"))


def ledger_entry_hash(
    *,
    seq: int,
    recorded_at: dt.datetime,
    actor: str,
    actor_user_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    object_sha256: str,
    details: Any,
    prev_hash: str,
) -> str:
    """The hash of a ledger entry: its fields and the previous entry's hash, canonical JSON."""
    payload = canonical_json(
        {
            "seq": seq,
            "recorded_at": utc_iso(recorded_at),
            "actor": actor,
            "actor_user_id": actor_user_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "object_sha256": object_sha256,
            "details": details,
            "prev_hash": prev_hash,
        }
    )
    return sha256_hex(payload.encode("utf-8"))


# The fields whose canonical content an account profile and an assent record are hashed
# over (`content_sha256`): the record as the provider's systems gave it, nothing derived.
ACCOUNT_PROFILE_FIELDS = (
    "org_name",
    "email",
    "created_at",
    "country",
    "billing_country",
    "payment_fingerprint",
    "signup_ip",
    "signup_user_agent",
    "plan",
    "status",
    "reseller",
)
ACCOUNT_HASHED = ("account_id", *ACCOUNT_PROFILE_FIELDS)
ASSENT_HASHED = (
    "account_id",
    "terms_slug",
    "version_label",
    "accepted_at",
    "ip",
    "user_agent",
    "method",
    "flow_id",
    "screenshot_sha256",
)
# A probe exchange as the investigator's capture gives it (`evidence.models.ProbeExchange`).
PROBE_HASHED = (
    "probe_id",
    "target",
    "target_version",
    "endpoint",
    "control",
    "collected_at",
    "prompt",
    "response",
    "collector",
    "tool",
    "tool_version",
    "raw_sha256",
)
# A line of the gateway's canary serve log (`evidence.models.CanaryServe`).
SERVE_HASHED = ("canary_id", "request_id", "account_id", "served_at")
# A line of the provider's billing system (`evidence.models.BillingRecord`): an invoice,
# payment, refund or chargeback of one account, its amount in minor units of its currency.
BILLING_HASHED = (
    "account_id",
    "kind",
    "billing_id",
    "invoice_id",
    "amount_minor",
    "currency",
    "occurred_at",
    "period_start",
    "period_end",
)
# A canary found in a probe response (`evidence.models.CanaryMatch`), by the canary's and
# the probe's ids, with whom it ties and the chance of coincidence as recorded.
CANARY_MATCH_HASHED = ("canary_id", "probe_id", "accounts", "serves", "chance", "method", "quote")
