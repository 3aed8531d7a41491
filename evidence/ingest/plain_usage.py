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

import orjson

from evidence.canonical import params_canonical, usage_row_canonical_text
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
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(record) is not dict or not USAGE_FIELDS.issuperset(record):
        return None
    if "prompt_sha256" in record:
        return None  # rare: the full validator checks it against the prompt
    get = record.get
    request_id = get("request_id")
    account_id = get("account_id")
    model = get("model")
    if not (
        type(request_id) is str
        and 0 < len(request_id) <= 200
        and type(account_id) is str
        and 0 < len(account_id) <= 100
        and type(model) is str
        and 0 < len(model) <= 100
    ):
        return None
    key = get("api_key_id")
    if key is None:
        key = ""
    elif type(key) is not str or len(key) > 100:
        return None
    endpoint = get("endpoint")
    if endpoint is None:
        endpoint = ""
    elif type(endpoint) is not str or len(endpoint) > 200:
        return None
    user_agent = get("user_agent")
    if user_agent is None:
        user_agent = ""
    elif type(user_agent) is not str or len(user_agent) > 2000:
        return None
    end_user = get("end_user")
    if end_user is None:
        end_user = ""
    elif type(end_user) is not str or len(end_user) > 200:
        return None
    input_tokens = get("input_tokens")
    output_tokens = get("output_tokens")
    if not (
        type(input_tokens) is int
        and 0 <= input_tokens <= INT32_MAX
        and type(output_tokens) is int
        and 0 <= output_tokens <= INT32_MAX
    ):
        return None
    status = get("status")
    if status is None:
        status = ""
    elif type(status) is int and 100 <= status <= 599:
        status = str(status)
    else:
        return None
    ts = get("ts")
    if type(ts) is not str or len(ts) != 24 or not _PLAIN_TS.fullmatch(ts):
        return None
    try:
        dt.datetime.fromisoformat(ts)  # a real date and time (no 30 February, no hour 25)
    except ValueError:
        return None
    ts_iso = ts[:23] + "000+00:00"
    ip = get("source_ip")
    if ip is None:
        ip = ""
    elif type(ip) is str and ip:
        ip = _ip_text(ip)
        if ip is None:
            return None
    else:
        return None
    params = get("params")
    if params is None:
        params_json = "{}"
    elif type(params) is dict:
        params_json = params_canonical(params)
        if params_json not in _PARAMS_CHECKED:
            try:
                check_json_storable(params, "params")
            except RecordError:
                return None
            _remember(_PARAMS_CHECKED, params_json, True)
    else:
        return None
    prompt = get("prompt")
    if prompt is None or prompt == "":
        prompt_sha256 = template_key = excerpt = prompt_text = ""
    elif type(prompt) is str:
        prompt_sha256, template_key = _prompt_digests(prompt)
        excerpt = prompt[:EXCERPT_CHARS]
        prompt_text = prompt if full_prompts else ""
    else:
        return None
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
