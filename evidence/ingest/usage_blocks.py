"""Usage events prepared in blocks: parsed, validated, hashed and formatted for COPY.

Parsing and validating a JSON line costs several times more CPU than PostgreSQL spends
storing it, so for NDJSON files the blocks are prepared by worker processes while the main
process streams finished blocks into COPY, in file order. A block carries everything the
loader and the batch record need — the COPY text of its valid rows, their hashes in order,
the accounts and keys they name — and the errors of its bad lines with their numbers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from evidence.ingest.formats import records
from evidence.ingest.records import RecordError, usage_record
from evidence.ingest.source import RawLine, SourceError

BLOCK_LINES = 2_000
NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass
class UsageBlock:
    copy_data: bytes = b""
    row_hashes: list[str] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (account, ts)
    errors: list[tuple[int, str | None, str, bytes | None]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.row_hashes)


def _copy_text(value: str) -> str:
    """A value in PostgreSQL's COPY text format (backslash, tab and line breaks escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def usage_copy_line(row: dict[str, Any], batch_id: int) -> str:
    """One stored usage row as a COPY text line, columns in `USAGE_COLUMNS` order."""
    ip, status = row["source_ip"], row["status"]
    return "\t".join(
        (
            _copy_text(row["request_id"]),
            row["ts_iso"],
            _copy_text(row["account_id"]),
            _copy_text(row["api_key_id"]),
            _copy_text(row["model"]),
            _copy_text(row["endpoint"]),
            str(row["input_tokens"]),
            str(row["output_tokens"]),
            NULL if ip is None else ip,
            _copy_text(row["user_agent"]),
            _copy_text(row["end_user"]),
            _copy_text(row["params_json"]),
            row["prompt_sha256"],
            row["prompt_template_key"],
            _copy_text(row["prompt_excerpt"]),
            _copy_text(row["prompt_text"]),
            NULL if status is None else str(status),
            str(batch_id),
            row["row_sha256"],
        )
    )


def usage_block_from_records(
    items: Iterable[tuple[int, Any, bytes | None]], *, batch_id: int, full_prompts: bool
) -> UsageBlock:
    """Validate records (or carry their format errors) into one block."""
    block = UsageBlock()
    lines = []
    for number, record, raw in items:
        if isinstance(record, RecordError):
            block.errors.append((number, record.field, record.message, raw))
            continue
        try:
            row = usage_record(record, full_prompts=full_prompts)
        except RecordError as exc:
            block.errors.append((number, exc.field, exc.message, raw))
            continue
        lines.append(usage_copy_line(row, batch_id))
        block.row_hashes.append(row["row_sha256"])
        account_id = row["account_id"]
        block.accounts.add(account_id)
        key = row["api_key_id"]
        if key and key not in block.keys:
            block.keys[key] = (account_id, row["ts_iso"])
    if lines:
        lines.append("")
        block.copy_data = "\n".join(lines).encode("utf-8", "surrogatepass")
    return block


def usage_block_from_lines(
    lines: list[tuple[int, bytes, bool]], fmt: str, batch_id: int, full_prompts: bool
) -> UsageBlock:
    """Parse raw NDJSON lines of format `fmt` into a block (runs in a worker process)."""
    raw_lines = (RawLine(number, data, too_long) for number, data, too_long in lines)
    return usage_block_from_records(
        records(raw_lines, kind="usage", fmt=fmt), batch_id=batch_id, full_prompts=full_prompts
    )


def usage_blocks_from_records(
    items: Iterator[tuple[int, Any, bytes | None]], *, batch_id: int, full_prompts: bool
) -> Iterator[UsageBlock]:
    """Blocks from already-parsed records (CSV, whose quoting spans lines), in process."""
    for chunk in _blocks_of(items):
        yield usage_block_from_records(chunk, batch_id=batch_id, full_prompts=full_prompts)


def _blocks_of(items: Iterator) -> Iterator[list]:
    """Lists of BLOCK_LINES items; if the source fails, the items read before it come first."""
    chunk: list = []
    failure: SourceError | None = None
    try:
        for item in items:
            chunk.append(item)
            if len(chunk) >= BLOCK_LINES:
                yield chunk
                chunk = []
    except SourceError as exc:
        failure = exc
    if chunk:
        yield chunk
    if failure is not None:
        raise failure


def _line_blocks(lines: Iterator[RawLine]) -> Iterator[list[tuple[int, bytes, bool]]]:
    return _blocks_of((line.number, line.data, line.too_long) for line in lines)


def ingest_workers(configured: int) -> int:
    """How many parsing processes to use: none inside a daemon (e.g. a Celery worker child,
    which may not have children of its own) or on a single core."""
    if multiprocessing.current_process().daemon:
        return 0
    return max(0, min(configured, (os.cpu_count() or 1)))


class UsageBlockPipeline:
    """Blocks of a file, in order, prepared by a pool of `workers` processes (or in process).

    At most a few blocks per worker are in flight, so memory stays bounded however large
    the file. Create it before opening a COPY: the pool forks, and a fork should not copy a
    live COPY writer thread.
    """

    def __init__(self, *, workers: int) -> None:
        self.workers = workers
        self._pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None

    def blocks(
        self, lines: Iterator[RawLine], *, fmt: str, batch_id: int, full_prompts: bool
    ) -> Iterator[UsageBlock]:
        args = (fmt, batch_id, full_prompts)
        if self._pool is None:
            for block_lines in _line_blocks(lines):
                yield usage_block_from_lines(block_lines, *args)
            return
        pending: deque = deque()
        failure: SourceError | None = None
        try:
            for block_lines in _line_blocks(lines):
                pending.append(self._pool.apply_async(usage_block_from_lines, (block_lines, *args)))
                if len(pending) >= 3 * self.workers:
                    yield pending.popleft().get()
        except SourceError as exc:
            failure = exc  # deliver the lines read before the damage, then report it
        while pending:
            yield pending.popleft().get()
        if failure is not None:
            raise failure

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
