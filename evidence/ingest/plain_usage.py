"""The short path of usage ingest: a plainly valid native NDJSON line checked in one step.

Most lines of a real log are plainly valid. `plain_usage_row` checks such a line without
building the typed row and returns its canonical text and hash; a line it is unsure of
goes to the full validator (`records.usage_record`), which stays the one definition of
what is accepted and of every error message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Annotated

import msgspec
import orjson
from msgspec import Meta

from evidence.custody.canonical import params_canonical, usage_row_canonical_text
from evidence.ingest.records import (
    EXCERPT_CHARS,
    INT32_MAX,
    USAGE_FIELDS,
    RecordError,
    check_json_storable,
    ip_text,
    prompt_template_key,
)

# The form almost every log writes ("2026-01-05T10:00:00.123Z"), whose canonical form
# (`canonical.utc_iso`) is the same text with microseconds and "+00:00".
_PLAIN_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
_NUL_ESCAPE = b"\\u0000"


def _text(shortest: int, longest: int):
    return Annotated[str, Meta(min_length=shortest, max_length=longest)]


_TOKENS = Annotated[int, Meta(ge=0, le=INT32_MAX)]


class _PlainUsageLine(msgspec.Struct, forbid_unknown_fields=True):
    """The fields of a native usage line, with the types and lengths `usage_record`
    accepts, decoded and checked in C (about a third of what checking them one by one in
    Python costs). `prompt_sha256` is left out on purpose: a line that carries one goes to
    the full validator, which checks it against the prompt. Every default is what an
    absent field means there."""

    request_id: _text(1, 200)
    ts: str
    account_id: _text(1, 100)
    model: _text(1, 100)
    input_tokens: _TOKENS
    output_tokens: _TOKENS
    api_key_id: _text(0, 100) | None = None
    endpoint: _text(0, 200) | None = None
    user_agent: _text(0, 2000) | None = None
    end_user: _text(0, 200) | None = None
    source_ip: str | None = None
    params: msgspec.Raw = msgspec.Raw(b"null")
    prompt: str | None = None
    status: Annotated[int, Meta(ge=100, le=599)] | None = None


# The short path takes the fields the validator takes, less the one it leaves to it.
assert {*_PlainUsageLine.__struct_fields__, "prompt_sha256"} == USAGE_FIELDS
_PLAIN_DECODER = msgspec.json.Decoder(_PlainUsageLine)


def plain_usage_row(line: bytes, *, full_prompts: bool) -> tuple[list[str], str] | None:
    """A native usage line that `usage_record` accepts as it is, as its canonical text
    parts (`USAGE_HASHED_FIELDS` order) and row hash; None for anything else.

    The short path of ingest: most lines of a real log are plainly valid, and checking them
    in one function, without building the typed row, costs a fraction of the full path.
    It accepts nothing the full validator would refuse and stores exactly what it would
    store (tests compare the two); for any line it is unsure of — a JSON error, a missing,
    mistyped or unusual field, an escaped NUL — it returns None and the full validator
    decides, so every rejection still names its line, field and reason the same way.
    """
    if _NUL_ESCAPE in line:
        return None  # "\u0000" may sit in a text field: the full validator names which
    try:
        record = _PLAIN_DECODER.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None  # bad JSON, an unusual type or length, a field it does not take
    request_id = record.request_id
    account_id = record.account_id
    model = record.model
    key = record.api_key_id or ""
    endpoint = record.endpoint or ""
    user_agent = record.user_agent or ""
    end_user = record.end_user or ""
    input_tokens = record.input_tokens
    output_tokens = record.output_tokens
    status = record.status
    status = "" if status is None else str(status)
    ts = record.ts
    if len(ts) != 24 or not _PLAIN_TS.fullmatch(ts):
        return None
    try:
        dt.datetime.fromisoformat(ts)  # a real date and time (no 30 February, no hour 25)
    except ValueError:
        return None
    ts_iso = ts[:23] + "000+00:00"
    ip = record.source_ip
    if ip is None:
        ip = ""
    elif ip:
        ip = _ip_text(ip)
        if ip is None:
            return None
    else:
        return None
    # Request parameters are read by orjson, as the full validator reads them: the two
    # differ on integers beyond 64 bits (orjson: a float), which would change the hash.
    try:
        params = orjson.loads(memoryview(record.params))
    except orjson.JSONDecodeError:
        return None  # e.g. nested deeper than orjson reads: the full validator says so
    if params is None:
        params_json = "{}"
    elif type(params) is dict:
        try:
            params_json = params_canonical(params)
        except orjson.JSONEncodeError:
            return None  # nested deeper than orjson writes: the full validator says so
        if params_json not in _PARAMS_CHECKED:
            try:
                check_json_storable(params, "params")
            except RecordError:
                return None
            _remember(_PARAMS_CHECKED, params_json, True)
    else:
        return None
    prompt = record.prompt
    if not prompt:
        prompt_sha256 = template_key = excerpt = prompt_text = ""
    else:
        prompt_sha256, template_key = _prompt_digests(prompt)
        excerpt = prompt[:EXCERPT_CHARS]
        prompt_text = prompt if full_prompts else ""
    parts = [
        request_id,
        ts_iso,
        account_id,
        key,
        model,
        endpoint,
        str(input_tokens),
        str(output_tokens),
        ip,
        user_agent,
        end_user,
        params_json,
        prompt_sha256,
        template_key,
        excerpt,
        prompt_text,
        status,
    ]
    return parts, hashlib.sha256(usage_row_canonical_text(parts)).hexdigest()


# A log repeats the same source addresses and request parameters over and over, so the
# short path remembers the ones it has already normalised or checked: bounded memos of
# pure functions, so the stored values are the same with or without them.
_MEMO_SIZE = 20_000
_MEMO_TEXT = 1_000  # longer values are not remembered, so a memo stays a few megabytes
_IP_TEXT: dict[str, str | None] = {}
_PARAMS_CHECKED: dict[str, bool] = {}  # canonical params JSON that jsonb stores unchanged


def _remember(memo: dict, key: str, value) -> None:
    """Keep a short key's result, starting afresh when the memo is full."""
    if len(key) <= _MEMO_TEXT:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[key] = value


def _ip_text(value: str) -> str | None:
    """`records.ip_text`, remembered."""
    try:
        return _IP_TEXT[value]
    except KeyError:
        pass
    text = ip_text(value)
    _remember(_IP_TEXT, value, text)
    return text


# Harvesting traffic sends the same prompts again and again (that repetition is what
# detection looks for), so their hash and template key are remembered too.
_PROMPT_DIGESTS: dict[str, tuple[str, str]] = {}


def _prompt_digests(prompt: str) -> tuple[str, str]:
    """The prompt's SHA-256 and template key, as `records.usage_record` computes them."""
    try:
        return _PROMPT_DIGESTS[prompt]
    except KeyError:
        pass
    digests = (
        hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest(),
        prompt_template_key(prompt),
    )
    _remember(_PROMPT_DIGESTS, prompt, digests)
    return digests
