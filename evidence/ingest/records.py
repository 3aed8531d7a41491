"""Validation of one record of each kind, from a dict in the native field names.

Each validator returns the typed values Pacta stores, or raises `RecordError` naming the
field and the reason, so an operator can fix the exact line. Nothing is coerced silently:
a string where a number belongs, a negative token count or a timestamp without a zone is
an error, because an evidence record that was "fixed up" on the way in is not the record
the provider holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
import re
import socket
from typing import Any

from django.conf import settings

from evidence.custody.canonical import (
    ACCOUNT_HASHED,
    ASSENT_HASHED,
    BILLING_HASHED,
    PROBE_HASHED,
    SERVE_HASHED,
    content_sha256,
    params_canonical,
    usage_row_canonical_parts,
    utc_iso,
)

INT32_MAX = 2**31 - 1
EXCERPT_CHARS = 200
HEX64 = re.compile(r"[0-9a-f]{64}")
# A line nested deeper than this is rejected: no record of any kind needs more (request
# parameters and adapted log bodies nest a few levels), and walking deeper structures is
# what exhausts parsers and the stack (a line 1,000 deep used to crash the whole ingest).
MAX_JSON_DEPTH = 64
DEPTH_MESSAGE = f"nested deeper than {MAX_JSON_DEPTH} levels"
# How much of a field name or message quoting the line an error keeps: the line itself is
# kept (its first bytes, length and hash) in the rejects file.
FIELD_CHARS = 200
MESSAGE_CHARS = 1000


class RecordError(ValueError):
    """A record that cannot be accepted: which field, and why."""

    def __init__(self, field: str | None, message: str) -> None:
        if field is not None and len(field) > FIELD_CHARS:
            field = field[:FIELD_CHARS] + "..."
        if len(message) > MESSAGE_CHARS:
            message = message[:MESSAGE_CHARS] + "..."
        super().__init__(message)
        self.field = field
        self.message = message


USAGE_FIELDS = frozenset(
    {
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
        "prompt",
        "prompt_sha256",
        "status",
    }
)
ACCOUNT_FIELDS = frozenset(
    {
        "account_id",
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
    }
)
ASSENT_FIELDS = frozenset(
    {
        "account_id",
        "terms",
        "version",
        "ts",
        "ip",
        "user_agent",
        "method",
        "flow_id",
        "screenshot_sha256",
    }
)
PROBE_FIELDS = frozenset(PROBE_HASHED)
SERVE_FIELDS = frozenset(SERVE_HASHED)
# The file gives the time as `ts`, as usage and assent do; it is stored as `occurred_at`.
BILLING_FIELDS = (frozenset(BILLING_HASHED) - {"occurred_at"}) | {"ts"}
FIELDS_BY_KIND = {
    "usage": USAGE_FIELDS,
    "accounts": ACCOUNT_FIELDS,
    "assent": ASSENT_FIELDS,
    "probes": PROBE_FIELDS,
    "serves": SERVE_FIELDS,
    "billing": BILLING_FIELDS,
}


# --- field readers ------------------------------------------------------------------------


def _unknown_fields(record: dict, allowed: frozenset[str]) -> None:
    for key in record:
        if key not in allowed:
            raise RecordError(key, f"unknown field {key!r}")


def _text(record: dict, name: str, *, required: bool = False, max_length: int = 1000) -> str:
    value = record.get(name)
    if type(value) is str and 0 < len(value) <= max_length and "\x00" not in value:
        return value  # the common case, first: this runs eight times for every usage row
    if value is None or value == "":
        if required:
            raise RecordError(name, "is required")
        return ""
    if not isinstance(value, str):
        raise RecordError(name, f"must be a string, got {type(value).__name__}")
    if len(value) > max_length:
        raise RecordError(name, f"is longer than {max_length} characters")
    raise RecordError(name, "contains a NUL character")


def _count(record: dict, name: str) -> int:
    value = record.get(name)
    if type(value) is int and 0 <= value <= INT32_MAX:
        return value
    if value is None or value == "":
        raise RecordError(name, "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(name, f"must be a whole number, got {value!r}"[:200])
    if value < 0:
        raise RecordError(name, f"must not be negative, got {value}")
    raise RecordError(name, f"is implausibly large ({value})")


def _timestamp(record: dict, name: str, *, required: bool = True) -> dt.datetime | None:
    value = record.get(name)
    if value is None or value == "":
        if required:
            raise RecordError(name, "is required")
        return None
    if not isinstance(value, str):
        raise RecordError(name, f"must be an ISO-8601 timestamp string, got {value!r}"[:200])
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(name, f"is not an ISO-8601 timestamp: {value!r}"[:200]) from None
    if parsed.tzinfo is None:
        # A zone-less time is ambiguous across the provider's systems; refuse to guess.
        raise RecordError(name, f"has no time zone (add Z or an offset): {value!r}"[:200])
    return parsed.astimezone(dt.UTC)


def _ip(record: dict, name: str) -> str | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordError(name, f"must be an IP address string, got {value!r}"[:200])
    text = ip_text(value)
    if text is None:
        raise RecordError(name, f"is not an IP address: {value!r}"[:200])
    return text


def ip_text(value: str) -> str | None:
    """The stored text of an IP address (IPv6 compressed, lowercase), None if it is not one."""
    try:  # the C parser first: this runs for every usage row
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, value))
    except OSError:
        pass
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _sha256(record: dict, name: str) -> str:
    value = _text(record, name, max_length=64)
    if value and not HEX64.fullmatch(value):
        raise RecordError(name, "must be 64 lowercase hexadecimal characters (a SHA-256)")
    return value


def _bool(record: dict, name: str) -> bool:
    value = record.get(name)
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "1", "0"}:
        return value.lower() in {"true", "1"}
    raise RecordError(name, f"must be true or false, got {value!r}"[:200])


def json_too_deep(value: Any, depth: int = 1) -> bool:
    """Whether a parsed JSON value, itself at `depth`, nests deeper than `MAX_JSON_DEPTH`.
    Walked with a list, not by recursion, so no depth can exhaust the stack."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        kind = type(item)
        if kind is not dict and kind is not list:
            continue
        if level > MAX_JSON_DEPTH:
            return True
        stack.extend((child, level + 1) for child in (item.values() if kind is dict else item))
    return False


def check_json_storable(value: Any, path: str, depth: int = 2) -> None:
    """A JSON value must survive a round trip through jsonb unchanged (the row hash):
    numbers within range, and no NUL character in a key or a string, which jsonb refuses
    (it would abort the whole load instead of rejecting the line); and, at `depth` in its
    line (a field of the line's object is at 2), nest no deeper than `MAX_JSON_DEPTH`."""
    if depth > MAX_JSON_DEPTH:
        raise RecordError(path.partition(".")[0], DEPTH_MESSAGE)  # the field, not 64 indexes
    is_dict = type(value) is dict
    # A list's items are named by their index: naming them by the list's path doubled the
    # path at every level, and a line of nested lists grew it past any memory.
    items = value.items() if is_dict else enumerate(value)
    for key, item in items:
        if is_dict and "\x00" in key:
            raise RecordError(f"{path}.{key!r}", "key contains a NUL character")
        kind = type(item)
        if kind is str:
            if "\x00" in item:
                raise RecordError(f"{path}.{key}", "contains a NUL character")
            continue
        if kind is bool or item is None:
            continue
        if kind is float:
            if not math.isfinite(item) or abs(item) >= 1e15:
                raise RecordError(f"{path}.{key}", f"number out of range: {item!r}")
        elif kind is int:
            if abs(item) >= 2**53:
                raise RecordError(f"{path}.{key}", f"number out of range: {item!r}")
        elif kind is dict or kind is list:
            check_json_storable(item, f"{path}.{key}", depth + 1)


def _params(record: dict) -> dict:
    value = record.get("params")
    if value is None or value == "":
        return {}
    if isinstance(value, str):  # CSV carries params as a JSON cell
        import orjson

        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            if json_depth_error(exc):
                raise RecordError("params", DEPTH_MESSAGE) from None
            raise RecordError("params", f"is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RecordError("params", "must be a JSON object")
    check_json_storable(value, "params")
    return value


def json_depth_error(exc: Exception) -> bool:
    """Whether orjson refused a value for its depth (past 1,024 levels, far past ours).
    Its wording is pinned by a test, so an upgrade that changes it is noticed."""
    return "depth" in str(exc) or "ecursion" in str(exc)


# --- prompts ------------------------------------------------------------------------------

# Quoted strings and runs of digits (numbers, dates, ids with digits); each becomes "#".
# Written as "one of the three first characters, then the rest of its alternative", which
# matches exactly what `"[^"\n]{0,400}"|`[^`\n]{0,400}`|\d[\d.,:/-]*` matches but lets the
# engine skip every other character at once (about twice as fast on this hot path).
_VARIABLE_PARTS = re.compile(
    r"[\"`\d](?:(?<=\")[^\"\n]{0,400}\"|(?<=`)[^`\n]{0,400}`|(?<=\d)[\d.,:/-]*)"
)
# Most prompts quote nothing: for them the digit runs are the only variable parts.
_DIGIT_RUNS = re.compile(r"\d[\d.,:/-]*")


def prompt_template_key(prompt: str) -> str:
    """Hash of the prompt with its variable parts masked: equal keys, same template.

    Quoted strings, digit runs and whitespace runs are masked, so "Solve 37*41 step by
    step" and "Solve 12*9 step by step" share a key. Detection counts keys per account;
    heavier similarity (MinHash, embeddings) belongs to detection, not to this hot path,
    which is why this is one cheap regular-expression pass.
    """
    parts = _VARIABLE_PARTS if '"' in prompt or "`" in prompt else _DIGIT_RUNS
    masked = " ".join(parts.sub("#", prompt).lower().split())
    return hashlib.sha256(masked.encode("utf-8", "surrogatepass")).hexdigest()[:32]


# --- records ------------------------------------------------------------------------------


def usage_record(record: dict, *, full_prompts: bool | None = None) -> dict[str, Any]:
    """A usage event as stored: typed values, prompt reduced to hash, template key, excerpt.

    The hot path of ingest (once per event): common cases are checked first and the
    canonical timestamp and params are formatted once, for the row hash and for COPY.
    """
    if not USAGE_FIELDS.issuperset(record):
        _unknown_fields(record, USAGE_FIELDS)
    prompt = record.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise RecordError("prompt", "must be a string")
    status = record.get("status")
    if status is not None and status != "":
        status = _count(record, "status")
        if not 100 <= status <= 599:
            raise RecordError("status", f"is not an HTTP status code: {status}")
    else:
        status = None
    ts = _timestamp(record, "ts")
    params = _params(record)
    row = {
        "request_id": _text(record, "request_id", required=True, max_length=200),
        "ts": ts,
        "account_id": _text(record, "account_id", required=True, max_length=100),
        "api_key_id": _text(record, "api_key_id", max_length=100),
        "model": _text(record, "model", required=True, max_length=100),
        "endpoint": _text(record, "endpoint", max_length=200),
        "input_tokens": _count(record, "input_tokens"),
        "output_tokens": _count(record, "output_tokens"),
        "source_ip": _ip(record, "source_ip"),
        "user_agent": _text(record, "user_agent", max_length=2000),
        "end_user": _text(record, "end_user", max_length=200),
        "params": params,
        "prompt_sha256": "",
        "prompt_template_key": "",
        "prompt_excerpt": "",
        "prompt_text": "",
        "status": status,
    }
    if prompt:
        if "\x00" in prompt:
            raise RecordError("prompt", "contains a NUL character")
        row["prompt_sha256"] = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()
        row["prompt_template_key"] = prompt_template_key(prompt)
        row["prompt_excerpt"] = prompt[:EXCERPT_CHARS]
        if full_prompts is None:
            full_prompts = settings.PACTA_STORE_FULL_PROMPTS
        if full_prompts:
            row["prompt_text"] = prompt
        if record.get("prompt_sha256"):
            sent_hash = _sha256(record, "prompt_sha256")
            if sent_hash != row["prompt_sha256"]:
                raise RecordError("prompt_sha256", "does not match the SHA-256 of prompt")
    elif record.get("prompt_sha256"):
        row["prompt_sha256"] = _sha256(record, "prompt_sha256")
    params_json = params_canonical(params)
    row["params_json"] = params_json
    row["ts_iso"] = ts_iso = utc_iso(ts)
    row["row_sha256"] = hashlib.sha256(
        usage_row_canonical_parts(row, ts_iso, params_json)
    ).hexdigest()
    return row


# An account's profile as the accounts file gives it; its hash also covers the account id.


def _country(record: dict, name: str) -> str:
    value = _text(record, name, max_length=2)
    if value and not (len(value) == 2 and value.isalpha() and value.isupper()):
        raise RecordError(name, f"must be an ISO 3166 two-letter code, got {value!r}")
    return value


def account_record(record: dict) -> dict[str, Any]:
    """An account profile as stored, with the hash of its canonical content."""
    _unknown_fields(record, ACCOUNT_FIELDS)
    row = {
        "account_id": _text(record, "account_id", required=True, max_length=100),
        "org_name": _text(record, "org_name", max_length=300),
        "email": _text(record, "email", max_length=320),
        "created_at": _timestamp(record, "created_at", required=False),
        "country": _country(record, "country"),
        "billing_country": _country(record, "billing_country"),
        "payment_fingerprint": _text(record, "payment_fingerprint", max_length=200),
        "signup_ip": _ip(record, "signup_ip"),
        "signup_user_agent": _text(record, "signup_user_agent", max_length=2000),
        "plan": _text(record, "plan", max_length=50),
        "status": _text(record, "status", max_length=50),
        "reseller": _bool(record, "reseller"),
    }
    row["content_sha256"] = content_sha256(row, ACCOUNT_HASHED)
    return row


ASSENT_METHODS = {"clickwrap", "sign-in", "browsewrap", "enterprise-order", "other"}


def assent_record(record: dict) -> dict[str, Any]:
    """An acceptance of a Terms version as stored, with the hash of its canonical content."""
    _unknown_fields(record, ASSENT_FIELDS)
    method = _text(record, "method", required=True, max_length=20)
    if method not in ASSENT_METHODS:
        raise RecordError("method", f"must be one of {', '.join(sorted(ASSENT_METHODS))}")
    row = {
        "account_id": _text(record, "account_id", required=True, max_length=100),
        "terms_slug": _text(record, "terms", required=True, max_length=100),
        "version_label": _text(record, "version", required=True, max_length=50),
        "accepted_at": _timestamp(record, "ts"),
        "ip": _ip(record, "ip"),
        "user_agent": _text(record, "user_agent", max_length=2000),
        "method": method,
        "flow_id": _text(record, "flow_id", max_length=100),
        "screenshot_sha256": _sha256(record, "screenshot_sha256"),
    }
    row["content_sha256"] = content_sha256(row, ASSENT_HASHED)
    return row


# A transcript is kept whole (it is the exhibit), within a bound no real answer reaches.
PROBE_TEXT_CHARS = 200_000


def probe_record(record: dict) -> dict[str, Any]:
    """A probe exchange as stored: prompt and response whole, with the prompt's hash (the
    key by which control targets are compared on the same prompts) and the row's hash."""
    _unknown_fields(record, PROBE_FIELDS)
    row = {
        "probe_id": _text(record, "probe_id", required=True, max_length=200),
        "target": _text(record, "target", required=True, max_length=200),
        "target_version": _text(record, "target_version", max_length=100),
        "endpoint": _text(record, "endpoint", max_length=500),
        "control": _bool(record, "control"),
        "collected_at": _timestamp(record, "collected_at"),
        "prompt": _text(record, "prompt", required=True, max_length=PROBE_TEXT_CHARS),
        "response": _text(record, "response", required=True, max_length=PROBE_TEXT_CHARS),
        "collector": _text(record, "collector", required=True, max_length=200),
        "tool": _text(record, "tool", max_length=200),
        "tool_version": _text(record, "tool_version", max_length=100),
        "raw_sha256": _sha256(record, "raw_sha256"),
    }
    row["prompt_sha256"] = hashlib.sha256(
        row["prompt"].encode("utf-8", "surrogatepass")
    ).hexdigest()
    row["content_sha256"] = content_sha256(row, PROBE_HASHED)
    return row


def serve_record(record: dict) -> dict[str, Any]:
    """A line of the gateway's serve log: which canary went out in which request to whom."""
    _unknown_fields(record, SERVE_FIELDS)
    row = {
        "canary_id": _text(record, "canary_id", required=True, max_length=40),
        "request_id": _text(record, "request_id", required=True, max_length=200),
        "account_id": _text(record, "account_id", required=True, max_length=100),
        "served_at": _timestamp(record, "served_at"),
    }
    row["content_sha256"] = content_sha256(row, SERVE_HASHED)
    return row


# A line of the provider's billing system (issue #18: damages from what was charged and
# paid as well as list prices). An amount is a whole number of minor units (cents) of an
# ISO 4217 currency, never a decimal: money that went through a float is not the amount
# the billing system holds. The kind gives the direction (an invoice is charged, a payment
# received, a refund or chargeback paid back), so every amount is zero or more.
BILLING_KINDS = ("invoice", "payment", "refund", "chargeback")
# A trillion major units: past any invoice, within bigint, and a typo's extra digits show.
MAX_AMOUNT_MINOR = 10**14
_CURRENCY = re.compile(r"[A-Z]{3}")


def _amount(record: dict) -> int:
    value = record.get("amount_minor")
    if value is None or value == "":
        raise RecordError("amount_minor", "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(
            "amount_minor",
            f"must be a whole number of minor units (cents), got {value!r}"[:200],
        )
    if value < 0:
        raise RecordError(
            "amount_minor", f"must not be negative (the kind gives the direction), got {value}"
        )
    if value > MAX_AMOUNT_MINOR:
        raise RecordError("amount_minor", f"is implausibly large ({value})")
    return value


def billing_record(record: dict) -> dict[str, Any]:
    """A billing record as stored, with the hash of its canonical content."""
    _unknown_fields(record, BILLING_FIELDS)
    kind = _text(record, "kind", required=True, max_length=20)
    if kind not in BILLING_KINDS:
        raise RecordError("kind", f"must be one of {', '.join(BILLING_KINDS)}, got {kind!r}")
    currency = _text(record, "currency", required=True, max_length=3)
    if not _CURRENCY.fullmatch(currency):
        raise RecordError(
            "currency", f"must be an ISO 4217 code (three capitals), got {currency!r}"
        )
    row = {
        "account_id": _text(record, "account_id", required=True, max_length=100),
        "kind": kind,
        "billing_id": _text(record, "billing_id", required=True, max_length=200),
        "invoice_id": _text(record, "invoice_id", max_length=200),
        "amount_minor": _amount(record),
        "currency": currency,
        "occurred_at": _timestamp(record, "ts"),
        "period_start": _timestamp(record, "period_start", required=False),
        "period_end": _timestamp(record, "period_end", required=False),
    }
    start, end = row["period_start"], row["period_end"]
    if (start is None) != (end is None):
        missing = "period_end" if end is None else "period_start"
        raise RecordError(missing, "is required when the other end of the period is given")
    if start is not None and end < start:
        raise RecordError("period_end", "is before period_start")
    row["content_sha256"] = content_sha256(row, BILLING_HASHED)
    return row


VALIDATORS = {
    "usage": usage_record,
    "accounts": account_record,
    "assent": assent_record,
    "probes": probe_record,
    "serves": serve_record,
    "billing": billing_record,
}
