"""Usage events prepared in blocks: parsed, validated, hashed and formatted for COPY.

Parsing and validating a JSON line costs several times more CPU than PostgreSQL spends
storing it, so for NDJSON files the blocks are prepared by worker processes while the main
process streams finished blocks into COPY, in file order. A block carries everything the
loader and the batch record need — the COPY text of its valid rows, their hashes in order,
the accounts and keys they name — and the errors of its bad lines with their numbers.

What goes between the processes is kept small: a worker reads its lines of a plain file
from the file itself (`source.FileSpan`) and leaves the COPY text in a memory slot shared
with the main process (`_block_in_slot`); only the rest of the block goes through a pipe.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from evidence.ingest.formats import records
from evidence.ingest.plain_usage import plain_usage_row
from evidence.ingest.records import RecordError, usage_record
from evidence.ingest.source import FileSpan, KeptLine, LineBlock, RawLine, RawSource, SourceError

NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass
class UsageBlock:
    copy_data: bytes = b""
    rows: int = 0
    # The rows' hashes in order, each followed by b"\n": what the batch digest adds.
    hash_lines: bytes = b""
    accounts: set[str] = field(default_factory=set)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (account, ts)
    # (line, field, message, what is kept of the line): never a whole line, however long.
    errors: list[tuple[int, str | None, str, KeptLine | None]] = field(default_factory=list)
    # (slot, size) while the COPY text waits in a shared slot (see `_block_in_slot`)
    slot: tuple[int, int] | None = None


class _BlockBuilder:
    """Collects a block's rows in file order; of a rejected line it keeps `keep_bytes`."""

    def __init__(self, batch_id: int, keep_bytes: int) -> None:
        self.block = UsageBlock()
        self.batch = str(batch_id)
        self.keep_bytes = keep_bytes
        self.lines: list[str] = []
        self.hashes: list[str] = []

    def add(self, copy_line: str, row_hash: str, account_id: str, key: str, ts_iso: str) -> None:
        self.lines.append(copy_line)
        self.hashes.append(row_hash)
        self.block.accounts.add(account_id)
        if key and key not in self.block.keys:
            self.block.keys[key] = (account_id, ts_iso)

    def error(self, number: int, field_name: str | None, message: str, raw: RawLine | None) -> None:
        kept = None if raw is None else KeptLine.of(raw, self.keep_bytes)
        self.block.errors.append((number, field_name, message, kept))

    def add_record(self, number: int, record: Any, raw: RawLine | None, full_prompts: bool) -> None:
        """A record through the full validator: stored, or rejected with its reason."""
        if isinstance(record, RecordError):
            self.error(number, record.field, record.message, raw)
            return
        try:
            row = usage_record(record, full_prompts=full_prompts)
        except RecordError as exc:
            self.error(number, exc.field, exc.message, raw)
            return
        copy_line = usage_copy_line(row, self.batch)
        self.add(copy_line, row["row_sha256"], row["account_id"], row["api_key_id"], row["ts_iso"])

    def finish(self) -> UsageBlock:
        block = self.block
        if self.lines:
            self.lines.append("")
            block.copy_data = "\n".join(self.lines).encode("utf-8", "surrogatepass")
            self.hashes.append("")
            block.hash_lines = "\n".join(self.hashes).encode("ascii")
            block.rows = len(self.lines) - 1
        return block


def _copy_text(value: str) -> str:
    """A value in PostgreSQL's COPY text format (backslash, tab and line breaks escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def usage_copy_line(row: dict[str, Any], batch_id: int | str) -> str:
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
    items: Iterable[tuple[int, Any, RawLine | None]],
    *,
    batch_id: int,
    full_prompts: bool,
    keep_bytes: int,
) -> UsageBlock:
    """Validate records (or carry their format errors) into one block."""
    builder = _BlockBuilder(batch_id, keep_bytes)
    for number, record, raw in items:
        builder.add_record(number, record, raw, full_prompts)
    return builder.finish()


def usage_block_from_lines(
    lines: LineBlock | FileSpan,
    fmt: str,
    batch_id: int,
    full_prompts: bool,
    keep_bytes: int,
    key_owners: dict[str, str] | None = None,
) -> UsageBlock:
    """Parse raw NDJSON lines of format `fmt` into a block (runs in a worker process).

    Native lines that are plainly valid take the short path (`plain_usage_row`); every
    other line, and every line of an adapted format, goes through the full validator.
    Of a rejected line the block keeps `keep_bytes` and its length and hash.
    """
    if isinstance(lines, FileSpan):
        lines = lines.load()
    if fmt != "native":
        return usage_block_from_records(
            records(lines.lines(), kind="usage", fmt=fmt, key_owners=key_owners),
            batch_id=batch_id,
            full_prompts=full_prompts,
            keep_bytes=keep_bytes,
        )
    builder = _BlockBuilder(batch_id, keep_bytes)
    batch, copy_lines, hashes = builder.batch, builder.lines, builder.hashes
    accounts, keys = builder.block.accounts, builder.block.keys
    for raw in lines.lines():
        row = None if raw.too_long else plain_usage_row(raw.data, full_prompts=full_prompts)
        if row is None:
            for number, record, line in records(iter((raw,)), kind="usage", fmt=fmt):
                builder.add_record(number, record, line, full_prompts)
            continue
        parts, row_hash = row
        account_id, key = parts[2], parts[3]
        # `_BlockBuilder.add`, written out: this loop runs for every row of the file.
        copy_lines.append(
            usage_copy_line_from_parts(parts, batch, row_hash, escape=b"\\" in raw.data)
        )
        hashes.append(row_hash)
        accounts.add(account_id)
        if key and key not in keys:
            keys[key] = (account_id, parts[1])
    return builder.finish()


def usage_copy_line_from_parts(parts: list[str], batch: str, row_hash: str, *, escape: bool) -> str:
    """`usage_copy_line` from a row's canonical text parts (`plain_usage_row`).

    `escape` says whether any value may hold a backslash, tab or line break; when the JSON
    line had no backslash none can, and escaping is skipped. `parts` is used up.
    """
    if escape:
        parts = [_copy_text(part) for part in parts]
    if not parts[8]:
        parts[8] = NULL  # no source IP
    if not parts[16]:
        parts[16] = NULL  # no status
    return "\t".join(parts) + f"\t{batch}\t{row_hash}"


def usage_blocks_from_records(
    items: Iterator[tuple[int, Any, RawLine | None]],
    *,
    batch_id: int,
    full_prompts: bool,
    block_lines: int,
    block_bytes: int,
    keep_bytes: int,
) -> Iterator[UsageBlock]:
    """Blocks from already-parsed records (CSV, whose quoting spans lines), in process."""
    for chunk in _blocks_of(items, block_lines, block_bytes):
        yield usage_block_from_records(
            chunk, batch_id=batch_id, full_prompts=full_prompts, keep_bytes=keep_bytes
        )


def _blocks_of(items: Iterator, block_lines: int, block_bytes: int) -> Iterator[list]:
    """Lists of up to `block_lines` items, ending once their lines reach `block_bytes`; if
    the source fails, the items read before it come first."""
    chunk: list = []
    held = 0
    failure: SourceError | None = None
    try:
        for item in items:
            chunk.append(item)
            held += 0 if item[2] is None else len(item[2].data) + 1
            if len(chunk) >= block_lines or held >= block_bytes:
                yield chunk
                chunk, held = [], 0
    except SourceError as exc:
        failure = exc
    if chunk:
        yield chunk
    if failure is not None:
        raise failure


def ingest_workers(configured: int) -> int:
    """How many parsing processes to use: none inside a daemon (e.g. a Celery worker child,
    which may not have children of its own) or on a single core."""
    if multiprocessing.current_process().daemon:
        return 0
    return max(0, min(configured, (os.cpu_count() or 1)))


# Where workers leave a block's COPY text for the main process: a memory mapping shared
# with them (created before the fork), one slot per block in flight. Passing a megabyte
# a block back through the result pipe cost the main process more CPU than anything else
# it does; a block too large for its slot (`IngestTuning.slot_bytes`) still goes through
# the pipe.
_shared_slots: mmap.mmap | None = None  # in a worker: its pipeline's slots
_slot_bytes = 0  # in a worker: the size of each slot


def _worker_start(slots: mmap.mmap, slot_bytes: int) -> None:
    """Pool initializer: the slots reach the worker by the fork, not by pickling."""
    global _shared_slots, _slot_bytes
    _shared_slots, _slot_bytes = slots, slot_bytes


def _block_in_slot(lines: LineBlock | FileSpan, slot: int, *args) -> UsageBlock:
    """`usage_block_from_lines` in a worker, its COPY text left in shared slot `slot`."""
    block = usage_block_from_lines(lines, *args)
    size = len(block.copy_data)
    if _shared_slots is not None and size <= _slot_bytes:
        start = slot * _slot_bytes
        _shared_slots[start : start + size] = block.copy_data
        block.copy_data, block.slot = b"", (slot, size)
    return block


class UsageBlockPipeline:
    """Blocks of a file, in order, prepared by a pool of `workers` processes (or in process).

    At most a few blocks per worker are in flight, so memory stays bounded however large
    the file. Create it before opening a COPY: the pool forks, and a fork should not copy a
    live COPY writer thread. A block holds up to `block_lines` lines and `block_bytes`
    bytes (`RawSource.line_blocks`); `slot_bytes` is the shared memory for each block in
    flight.
    """

    def __init__(
        self, *, workers: int, block_lines: int, block_bytes: int, slot_bytes: int
    ) -> None:
        self.workers = workers
        self.block_lines = block_lines
        self.block_bytes = block_bytes
        self.slot_bytes = slot_bytes
        self._pool = None
        self._shared: mmap.mmap | None = None
        if workers > 1:
            # A slot is written again only by the block `slots` after it, which is sent
            # once that block has been taken out (at most `in_flight` are pending).
            self._in_flight = 3 * workers
            self._slots = self._in_flight + 1
            self._shared = mmap.mmap(-1, self._slots * slot_bytes)  # MAP_SHARED, anonymous
            self._pool = multiprocessing.get_context("fork").Pool(
                workers, initializer=_worker_start, initargs=(self._shared, slot_bytes)
            )

    def blocks(
        self,
        source: RawSource,
        *,
        fmt: str,
        batch_id: int,
        full_prompts: bool,
        keep_bytes: int,
        key_owners: dict[str, str] | None = None,
    ) -> Iterator[UsageBlock]:
        args = (fmt, batch_id, full_prompts, keep_bytes, key_owners)
        line_blocks = source.line_blocks(
            self.block_lines, self.block_bytes, spans=self._pool is not None
        )
        if self._pool is None:
            for lines in line_blocks:
                yield usage_block_from_lines(lines, *args)
            return
        pending: deque = deque()
        failure: SourceError | None = None
        try:
            for sent, lines in enumerate(line_blocks):
                slot = sent % self._slots
                pending.append(self._pool.apply_async(_block_in_slot, (lines, slot, *args)))
                if len(pending) >= self._in_flight:
                    yield self._taken(pending.popleft().get())
        except SourceError as exc:
            failure = exc  # deliver the lines read before the damage, then report it
        while pending:
            yield self._taken(pending.popleft().get())
        if failure is not None:
            raise failure

    def _taken(self, block: UsageBlock) -> UsageBlock:
        """The block with its COPY text copied out of its slot, which is free again."""
        if block.slot is not None:
            slot, size = block.slot
            start = slot * self.slot_bytes
            block.copy_data, block.slot = self._shared[start : start + size], None
        return block

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        if self._shared is not None:
            self._shared.close()
            self._shared = None
