"""Formats: each turns the lines of a file into records in Pacta's native field names.

`native` is DESIGN.md's NDJSON; `csv` has the same column names; `litellm` and `bedrock`
are adapters for LiteLLM proxy spend logs and AWS Bedrock model invocation logs (the
README's ingest section documents each mapping). Adapters never invent values: a field
the source does not carry stays empty.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from evidence.ingest.records import (
    DEPTH_MESSAGE,
    FIELDS_BY_KIND,
    RecordError,
    json_depth_error,
    json_too_deep,
)
from evidence.ingest.source import RawLine

FORMATS = ("native", "csv", "litellm", "bedrock")
USAGE_ONLY_FORMATS = ("litellm", "bedrock")
# CSV cells are text; these columns are whole numbers in the native format.
CSV_INTEGER_COLUMNS = frozenset({"input_tokens", "output_tokens", "status", "amount_minor"})
_INTEGER = re.compile(r"[-+]?\d+")


class HeaderError(Exception):
    """The CSV header cannot be mapped (unknown or missing columns): the file is refused."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# A record's line number, the record (or why its line is bad), and the line (for rejects).
Record = tuple[int, dict[str, Any] | RecordError, RawLine | None]


def _decode(raw: RawLine) -> str:
    if raw.too_long:
        long = raw.too_long
        raise RecordError(
            None,
            f"line is {long.length:,} bytes long, longer than the maximum line length of "
            f"{long.limit:,} bytes (PACTA_INGEST_MAX_LINE_BYTES)",
        )
    try:
        return raw.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(None, f"not valid UTF-8 (byte {exc.start + 1} of the line)") from None


def _json_object(raw: RawLine) -> dict[str, Any] | None:
    text = _decode(raw)
    if not text.strip():
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if json_depth_error(exc):
            raise RecordError(None, DEPTH_MESSAGE) from None
        raise RecordError(None, f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RecordError(None, "each line must be one JSON object")
    if json_too_deep(value):
        raise RecordError(None, DEPTH_MESSAGE)
    return value


def _ndjson(lines: Iterator[RawLine], adapt) -> Iterator[Record]:
    for raw in lines:
        try:
            value = _json_object(raw)
            if value is None:
                continue  # blank lines carry nothing and are not errors
            yield raw.number, adapt(value), raw
        except RecordError as exc:
            yield raw.number, exc, raw


def _csv(lines: Iterator[RawLine], kind: str) -> Iterator[Record]:
    allowed = FIELDS_BY_KIND[kind]
    decode_errors: list[Record] = []
    state: dict[str, Any] = {"line": 0, "raw": None}

    def text_lines() -> Iterator[str]:
        for raw in lines:
            state["line"], state["raw"] = raw.number, raw
            try:
                yield _decode(raw) + "\n"
            except RecordError as exc:
                decode_errors.append((raw.number, exc, raw))
                yield "\n"

    reader = csv.reader(text_lines(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise HeaderError(None, f"the CSV header cannot be read: {exc}") from None
    header = [name.strip() for name in header]
    for name in header:
        if name not in allowed:
            raise HeaderError(name, f"unknown column {name!r} for {kind}")
    if len(set(header)) != len(header):
        raise HeaderError(None, "the CSV header names a column twice")
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield state["line"], RecordError(None, f"not valid CSV: {exc}"), state["raw"]
            continue
        while decode_errors:
            yield decode_errors.pop(0)
        if not cells:
            continue
        line, raw = state["line"], state["raw"]
        if len(cells) != len(header):
            message = f"has {len(cells)} cells where the header names {len(header)} columns"
            yield line, RecordError(None, message), raw
            continue
        record = {n: cell for n, cell in zip(header, cells, strict=True) if cell != ""}
        for name in CSV_INTEGER_COLUMNS.intersection(record):
            if _INTEGER.fullmatch(record[name].strip()):
                record[name] = int(record[name])
        yield line, record, raw
    while decode_errors:
        yield decode_errors.pop(0)


# --- LiteLLM proxy SpendLogs ----------------------------------------------------------


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict)).strip()
    return ""


def _messages_prompt(messages: Any) -> str | None:
    """The user's words from a chat message list, the part that carries the template."""
    if isinstance(messages, str):
        try:
            messages = orjson.loads(messages)
        except orjson.JSONDecodeError:
            return messages or None
    if isinstance(messages, dict):
        messages = messages.get("messages", [])
    if not isinstance(messages, list):
        return None
    texts = [
        _message_text(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role", "user") == "user"
    ]
    text = "\n".join(t for t in texts if t)
    return text or None


def _litellm_team(row: dict[str, Any]) -> str | None:
    """The row's team: `team_id`, else the key's team LiteLLM notes in `metadata`."""
    if row.get("team_id"):
        return str(row["team_id"])
    metadata = row.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            return None
    team = metadata.get("user_api_key_team_id") if isinstance(metadata, dict) else None
    return str(team) if team else None


def litellm_key_teams(lines: Iterable[RawLine]) -> dict[str, set[str | None]]:
    """{api key: the teams its rows name, None for rows naming none} over a LiteLLM file,
    read before ingesting it."""
    teams: dict[str, set[str | None]] = defaultdict(set)
    for raw in lines:
        try:
            row = _json_object(raw)
        except RecordError:
            continue  # the ingest itself reports the line
        if row is None or not row.get("api_key"):
            continue
        teams[str(row["api_key"])].add(_litellm_team(row))
    return dict(teams)


def litellm_key_owners(
    *, teams: Mapping[str, set[str | None]], recorded: Mapping[str, str]
) -> dict[str, str]:
    """{api key: the account its rows belong to} for a LiteLLM file.

    LiteLLM logs each request with its key's own team and user, but some rows of a key
    carry no team (failures logged before the key's team is looked up, a key moved into a
    team): mapped on their own, one user's key would stand under two accounts, the team
    and the user, and read as a key shared between two customers. A key belongs to one
    owner: the account an earlier LiteLLM file recorded it under (`recorded`), else the one
    team this file shows it with. A key this file shows with two different teams gets no
    owner here: both teams keep their rows, and the key-sharing link stays.

    Only keys some of whose rows would otherwise go elsewhere are returned: the map goes
    with every block of the file to the parsing processes.
    """
    owners = {}
    for key, found in teams.items():
        named = found - {None}
        owner = recorded.get(key) or (next(iter(named)) if len(named) == 1 else None)
        if owner is not None and (None in found or named - {owner}):
            owners[key] = owner
    return owners


def litellm_record(
    row: dict[str, Any], *, key_owners: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A `LiteLLM_SpendLogs` row (exported as JSON) as a native usage record.

    The account is the row's team, else its user; a row whose key has an owner
    (`litellm_key_owners`) belongs to that owner when the row names no team, or names the
    owner as its team or user: a team and its own member are one party, not two customers.
    """
    team, user = _litellm_team(row), row.get("user") or None
    owner = (key_owners or {}).get(row.get("api_key") or "")
    if owner is not None and (team is None or owner in (team, user)):
        account = owner
    else:
        account = team or user
    if not account:
        raise RecordError("team_id", "is required (or user): it names the account")
    record: dict[str, Any] = {
        "request_id": row.get("request_id"),
        "ts": row.get("startTime"),
        "account_id": account,
        "api_key_id": row.get("api_key") or None,
        "model": row.get("model"),
        "endpoint": row.get("call_type") or None,
        "input_tokens": row.get("prompt_tokens"),
        "output_tokens": row.get("completion_tokens"),
        "source_ip": row.get("requester_ip_address") or None,
        "end_user": row.get("end_user") or None,
    }
    prompt = _messages_prompt(row.get("messages"))
    if prompt:
        record["prompt"] = prompt
    status = row.get("status")
    if status == "success":
        record["status"] = 200
    elif status:
        # LiteLLM records success or failure, not the HTTP code: keep its word, invent none.
        record["params"] = {"litellm_status": str(status)}
    return {key: value for key, value in record.items() if value is not None}


# --- AWS Bedrock model invocation logs ----------------------------------------------------

BEDROCK_PARAMS = (
    "max_tokens",
    "max_tokens_to_sample",
    "maxTokenCount",
    "temperature",
    "top_p",
    "top_k",
    "logprobs",
    "top_logprobs",
)


def bedrock_record(row: dict[str, Any]) -> dict[str, Any]:
    """A Bedrock `ModelInvocationLog` entry as a native usage record."""
    if row.get("schemaType") not in (None, "ModelInvocationLog"):
        raise RecordError("schemaType", f"is {row.get('schemaType')!r}, not ModelInvocationLog")
    identity = row.get("identity") if isinstance(row.get("identity"), dict) else {}
    body_in = row.get("input") if isinstance(row.get("input"), dict) else {}
    body_out = row.get("output") if isinstance(row.get("output"), dict) else {}
    request = body_in.get("inputBodyJson") if isinstance(body_in.get("inputBodyJson"), dict) else {}
    record: dict[str, Any] = {
        "request_id": row.get("requestId"),
        "ts": row.get("timestamp"),
        "account_id": row.get("accountId"),
        "model": row.get("modelId"),
        "endpoint": row.get("operation") or None,
        "input_tokens": body_in.get("inputTokenCount"),
        "output_tokens": body_out.get("outputTokenCount"),
        "end_user": identity.get("arn") or None,
    }
    prompt = request.get("prompt") or request.get("inputText")
    if not prompt and "messages" in request:
        prompt = _messages_prompt(request["messages"])
    if isinstance(prompt, str) and prompt:
        record["prompt"] = prompt
    params = {key: request[key] for key in BEDROCK_PARAMS if key in request}
    if params:
        record["params"] = params
    return {key: value for key, value in record.items() if value is not None}


def records(
    lines: Iterator[RawLine],
    *,
    kind: str,
    fmt: str,
    key_owners: Mapping[str, str] | None = None,
) -> Iterator[Record]:
    """The records of a file in native field names, or the error for each bad line.

    `key_owners` (LiteLLM only, from `litellm_key_owners`) keeps each key with one account.
    """
    if fmt == "native":
        return _ndjson(lines, lambda value: value)
    if fmt == "csv":
        return _csv(lines, kind)
    if fmt == "litellm":
        return _ndjson(lines, lambda row: litellm_record(row, key_owners=key_owners))
    if fmt == "bedrock":
        return _ndjson(lines, bedrock_record)
    raise ValueError(f"unknown format {fmt!r}")
