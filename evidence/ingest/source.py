"""Reading a file as received: hashed byte for byte, gunzipped when gzip, split into lines.

The SHA-256 is taken over the raw bytes exactly as they arrived (compressed, if they
arrived compressed), because that is the file the provider can produce again and compare.
Reading is bounded whatever the file holds: a compressed file is refused once it expands
past its caps, an over-long line is measured and hashed as it streams past but never held,
and what is kept of a rejected line is its first bytes, its length and its SHA-256.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import itertools
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from evidence.ingest.tuning import IngestTuning

GZIP_MAGIC = b"\x1f\x8b"


class SourceError(Exception):
    """The file as a whole cannot be read (empty, truncated, not gzip although it says so).

    `line` is where reading stopped (0: before any line). A file that `refuses_file` adds
    nothing; otherwise the lines read before the damage are kept and the damage reported.
    """

    def __init__(self, message: str, *, line: int = 0, refuses_file: bool | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.refuses_file = line == 0 if refuses_file is None else refuses_file


class ExpansionRefused(SourceError):
    """A compressed file expands past a cap: refused whole, as a decompression bomb would be."""

    def __init__(self, message: str) -> None:
        super().__init__(message, refuses_file=True)


class _HashingReader(io.RawIOBase):
    """Passes bytes through while hashing and counting them."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        self.size += n
        return n


class _GunzipReader(io.RawIOBase):
    """Incremental gunzip of every member of a file, within the expansion caps, handing
    over every byte it could decompress before failing.

    `gzip.GzipFile` refuses a whole buffer when the stream turns out truncated; for evidence
    we want every complete line that did arrive, then a clear error for the rest.
    Concatenated gzip members (rotated logs, `cat a.gz b.gz`) are each read once, in order;
    zero bytes after a member are padding and skipped, as gzip(1) skips them.
    """

    def __init__(self, raw: BinaryIO, *, name: str, tuning: IngestTuning) -> None:
        self.raw = raw
        self.name = name
        self.read_buffer = tuning.read_buffer
        self.max_expanded = tuning.max_expanded_bytes
        self.max_ratio = tuning.max_compression_ratio
        self.ratio_free = tuning.ratio_free_bytes
        self._inflate = zlib.decompressobj(wbits=31)
        self._input = b""  # read from the file, not yet taken by the decompressor
        self._in_member = False  # a member has begun and not yet ended
        self.compressed = 0  # bytes taken by the decompressor (or skipped as padding)
        self.expanded = 0  # bytes it gave back

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while True:
            if not self._input:
                self._input = self.raw.read(self.read_buffer)
                if not self._input:
                    return self._end(buffer)
            if not self._in_member:
                member = self._input.lstrip(b"\x00")
                self.compressed += len(self._input) - len(member)
                self._input = member
                if not member:
                    continue
                self._in_member = True
            given = len(self._input)
            data = self._inflate.decompress(self._input, len(buffer))
            if self._inflate.eof:
                # What follows the member is `unused_data`, and only that: CPython 3.11
                # leaves an earlier call's input in `unconsumed_tail` too, and adding it
                # read the start of the next member twice (a two-member file lost lines,
                # a three-member one grew without end).
                self._input = self._inflate.unused_data
                self._inflate = zlib.decompressobj(wbits=31)
                self._in_member = False
            else:
                self._input = self._inflate.unconsumed_tail
            self.compressed += given - len(self._input)
            if data:
                return self._hand_over(data, buffer)

    def _end(self, buffer) -> int:
        """The file has no more bytes: the member's last output, or the end."""
        if not self._in_member:
            return 0
        data = self._inflate.decompress(b"", len(buffer))  # output a full buffer held back
        if self._inflate.eof:
            self._in_member = False
        elif not data:
            raise EOFError("the compressed stream ends before its end marker")
        return self._hand_over(data, buffer) if data else 0

    def _hand_over(self, data: bytes, buffer) -> int:
        self.expanded += len(data)
        if self.max_expanded is not None and self.expanded > self.max_expanded:
            raise ExpansionRefused(
                f"{self.name} was refused: decompressed, it is larger than "
                f"{self.max_expanded:,} bytes, the limit on the expanded size of a "
                "compressed file (PACTA_INGEST_MAX_EXPANDED_BYTES); nothing of it was stored"
            )
        if self.expanded > self.ratio_free and self.expanded > self.max_ratio * self.compressed:
            raise ExpansionRefused(
                f"{self.name} was refused: {self.compressed:,} compressed bytes expanded to "
                f"more than {self.expanded:,}, past the limit of {self.max_ratio} times the "
                "compressed size (a decompression bomb, not a log); nothing of it was stored"
            )
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True)
class LongLine:
    """A line longer than the limit, as measured while it streamed past (never held whole):
    its length and SHA-256, without its line ending."""

    length: int
    sha256: str
    limit: int


class _LongLineDigest:
    """`LongLine`'s figures taken a piece at a time. Carriage returns at the end of what has
    been seen are held back until more follows: at the end they belong to the line break."""

    def __init__(self, start: bytes) -> None:
        self._sha256 = hashlib.sha256()
        self._length = 0
        self._returns = b""
        self.update(start)

    def update(self, data: bytes) -> None:
        data = self._returns + data
        body = data.rstrip(b"\r")
        self._returns = data[len(body) :]
        self._sha256.update(body)
        self._length += len(body)

    def line(self, limit: int) -> LongLine:
        return LongLine(self._length, self._sha256.hexdigest(), limit)


@dataclass
class RawLine:
    number: int
    data: bytes  # without the line ending; of an over-long line, its first bytes only
    too_long: LongLine | None = None


@dataclass(frozen=True)
class KeptLine:
    """What the rejects file keeps of a rejected line: its first bytes, and the length and
    SHA-256 of the whole line without its line ending, by which it can be found and checked
    in the file as received. A gigabyte of bad line costs a few kilobytes of evidence."""

    prefix: bytes
    length: int
    sha256: str

    @classmethod
    def of(cls, raw: RawLine, keep: int) -> KeptLine:
        if raw.too_long is not None:
            return cls(raw.data[:keep], raw.too_long.length, raw.too_long.sha256)
        return cls(raw.data[:keep], len(raw.data), hashlib.sha256(raw.data).hexdigest())


@dataclass
class LineBlock:
    """Consecutive lines of a file: `data` holds each line ending in b"\\n" (an over-long
    line by its first bytes, its figures in `too_long` by number); the first is `first`."""

    first: int
    data: bytes
    too_long: dict[int, LongLine] = field(default_factory=dict)

    def lines(self) -> Iterator[RawLine]:
        lines = self.data.split(b"\n")
        lines.pop()  # after the last line break
        too_long = self.too_long
        for number, data in enumerate(lines, self.first):
            long = too_long.get(number) if too_long else None
            yield RawLine(number, data if long else data.rstrip(b"\r"), long)


@dataclass
class FileSpan:
    """A block of a plain file named by where it lies, for a worker process to read itself
    (`load`) instead of receiving its bytes through a pipe: on a large file, shipping every
    line to the workers cost the main process more than reading the file.

    `sha256` is the digest of the bytes the main process read (and hashed into the file's
    raw hash) at that place; a worker that reads anything else there refuses the file, so
    every row stored still comes from exactly the bytes the batch's hash covers.
    """

    first: int
    path: str
    offset: int
    length: int
    sha256: bytes

    def load(self) -> LineBlock:
        with open(self.path, "rb") as fh:
            data = os.pread(fh.fileno(), self.length, self.offset)
        if hashlib.sha256(data).digest() != self.sha256:
            raise SourceError(
                f"the file changed while it was being read (lines from {self.first}): "
                "nothing of it is taken; ingest it again once it is complete"
            )
        return LineBlock(self.first, data)


class RawSource:
    """A file opened for ingest. Iterate `lines()` or `line_blocks()`, then read `sha256`
    and `size`.

    `tuning` gives the read buffer, what is kept of an over-long line and the expansion
    caps of a compressed file (a `max_expanded_bytes` of None: no cap on the size alone);
    `name` is the file's name in messages (an upload's is not its temporary path's).
    """

    def __init__(
        self, path: Path, *, max_line_bytes: int, tuning: IngestTuning, name: str | None = None
    ) -> None:
        self.path = Path(path)
        self.name = name or self.path.name
        self.max_line_bytes = max_line_bytes
        self.read_buffer = tuning.read_buffer
        # An over-long line stands in a block by its first bytes: what the rejects keep.
        self.keep_bytes = min(tuning.reject_prefix_bytes, max_line_bytes + 1)
        self._file = self.path.open("rb")
        self._hashing = _HashingReader(self._file)
        # At least the gzip magic's two bytes, so that `peek` can see them.
        buffered = io.BufferedReader(
            self._hashing, buffer_size=max(self.read_buffer, len(GZIP_MAGIC))
        )
        self.compressed = buffered.peek(2)[:2] == GZIP_MAGIC
        self._stream: BinaryIO = (
            io.BufferedReader(
                _GunzipReader(buffered, name=self.name, tuning=tuning),
                buffer_size=self.read_buffer,
            )
            if self.compressed
            else buffered
        )
        self.lines_read = 0

    def lines(self) -> Iterator[RawLine]:
        """Yield each line (1-based numbers); an over-long line is flagged and not kept whole."""
        for number, (data, long) in enumerate(self._lines(), 1):
            yield RawLine(number, data if long else data.rstrip(b"\r\n"), long)

    def line_blocks(
        self, max_lines: int, max_bytes: int, *, spans: bool = False
    ) -> Iterator[LineBlock | FileSpan]:
        """The lines in blocks, as one byte string each, for handing to another process
        whole. A block ends at `max_lines` lines or before it would pass `max_bytes` (each
        line counted with its line break, an over-long one by its first bytes), whichever
        comes first; a line longer than `max_bytes` makes a block of its own. If the file
        turns out damaged, the blocks read before the damage come first, then the
        `SourceError`.

        With `spans`, the blocks of a plain file are `FileSpan`s where they can be (every
        block before the end of the file, up to the first over-long line), for worker
        processes that read them from the file themselves."""
        if self.compressed:
            return self._line_blocks_by_line(max_lines, max_bytes)
        return self._line_blocks_by_buffer(max_lines, max_bytes, spans=spans)

    def _line_blocks_by_line(self, max_lines: int, max_bytes: int) -> Iterator[LineBlock]:
        """`line_blocks` a line at a time: a damaged gzip stream fails in the middle of a
        read, and reading by line keeps every complete line before the damage."""
        pieces: list[bytes] = []
        held = 0  # bytes in `pieces`
        too_long: dict[int, LongLine] = {}
        first = 1
        failure: SourceError | None = None
        try:
            for number, (data, long) in enumerate(self._lines(), 1):
                if long is not None or data[-1:] != b"\n":
                    # An over-long line's first bytes stand in for it; the last line of a
                    # file may have no line break.
                    data += b"\n"
                if pieces and held + len(data) > max_bytes:
                    yield LineBlock(first, b"".join(pieces), too_long)
                    first += len(pieces)
                    pieces, held, too_long = [], 0, {}
                if long is not None:
                    too_long[number] = long
                pieces.append(data)
                held += len(data)
                if len(pieces) >= max_lines:
                    yield LineBlock(first, b"".join(pieces), too_long)
                    first += len(pieces)
                    pieces, held, too_long = [], 0, {}
        except SourceError as exc:
            failure = exc
        if pieces:
            yield LineBlock(first, b"".join(pieces), too_long)
        if failure is not None:
            raise failure

    def _line_blocks_by_buffer(
        self, max_lines: int, max_bytes: int, *, spans: bool = False
    ) -> Iterator[LineBlock | FileSpan]:
        """`line_blocks` of an uncompressed file, read a buffer at a time and split in C:
        the same blocks as reading it by line, for a fraction of the main process's time."""
        read, buffer_size = self._stream.read, self.read_buffer
        limit, keep = self.max_line_bytes, self.keep_bytes
        lines: list[bytes] = []  # read, not yet in a block (an over-long one by its start)
        held = 0  # their bytes, each with its line break
        first = 1  # the number of lines[0]
        too_long: dict[int, LongLine] = {}
        carry = b""  # the start of a line the last read cut off
        running: _LongLineDigest | None = None  # an over-long line still streaming past
        running_start = b""  # and its first bytes
        number = 0
        # Where lines[0] starts in the file, while the blocks are the file's bytes as they
        # are (an over-long line is cut short in its block, and after one no span is made).
        position: int | None = 0 if spans else None
        try:
            while chunk := read(buffer_size):
                if running is not None:
                    end = chunk.find(b"\n")
                    if end < 0:
                        running.update(chunk)
                        continue
                    running.update(chunk[:end])
                    chunk = chunk[end + 1 :]
                    number += 1
                    too_long[number] = running.line(limit)
                    lines.append(running_start)
                    held += len(running_start) + 1
                    running = None
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                complete = data[:cut].split(b"\n")
                complete.pop()  # after the last line break
                for index, line in enumerate(complete):
                    if len(line) > limit:
                        too_long[number + 1 + index] = _LongLineDigest(line).line(limit)
                        complete[index] = line[:keep]
                if len(carry) > limit:  # a line still running is already too long
                    running, running_start, carry = _LongLineDigest(carry), carry[:keep], b""
                if too_long or running is not None:
                    position = None
                number += len(complete)
                lines += complete
                held += sum(map(len, complete)) + len(complete)
                while len(lines) >= max_lines or held > max_bytes:
                    count = _block_count(lines, max_lines, max_bytes, held)
                    block = _line_block(first, lines[:count], too_long)
                    if position is None:
                        yield block
                    else:
                        size = len(block.data)
                        digest = hashlib.sha256(block.data).digest()
                        yield FileSpan(first, str(self.path), position, size, digest)
                        position += size
                    first += count
                    held -= len(block.data)
                    del lines[:count]
            if running is not None:
                number += 1
                too_long[number] = running.line(limit)
                lines.append(running_start)
                held += len(running_start) + 1
            elif carry:
                number += 1
                if len(carry) > limit:
                    too_long[number] = _LongLineDigest(carry).line(limit)
                    carry = carry[:keep]
                lines.append(carry)
                held += len(carry) + 1
        finally:
            self.lines_read = number
        while lines:
            count = _block_count(lines, max_lines, max_bytes, held)
            block = _line_block(first, lines[:count], too_long)
            yield block
            first += count
            held -= len(block.data)
            del lines[:count]
        if number == 0:
            raise SourceError("the file is empty: there is nothing to ingest", line=0)

    def _lines(self) -> Iterator[tuple[bytes, LongLine | None]]:
        """Each line with its line break, or the first bytes of an over-long line with its
        figures, taken as the rest of it streams past without being held."""
        readline = self._stream.readline
        limit = self.max_line_bytes + 1
        number = 0
        try:
            while True:
                data = readline(limit)
                if not data:
                    break
                number += 1
                if data[-1:] != b"\n" and len(data) == limit:
                    digest = _LongLineDigest(data)
                    while rest := readline(self.read_buffer):
                        if rest[-1:] == b"\n":
                            digest.update(rest[:-1])
                            break
                        digest.update(rest)
                    yield data[: self.keep_bytes], digest.line(self.max_line_bytes)
                    continue
                yield data, None
        except ExpansionRefused as exc:
            exc.line = number + 1
            raise
        except (EOFError, zlib.error) as exc:
            raise SourceError(
                f"the gzip stream is damaged or truncated after line {number} ({exc}); "
                "the rest of the file was not received",
                line=number + 1,
            ) from exc
        finally:
            self.lines_read = number
        if number == 0:
            raise SourceError("the file is empty: there is nothing to ingest", line=0)

    def finish(self) -> None:
        """Read any bytes not yet consumed, so the hash covers the whole file."""
        while self._hashing.readinto(bytearray(self.read_buffer)):
            pass
        self._file.close()

    @property
    def sha256(self) -> str:
        return self._hashing.sha256.hexdigest()

    @property
    def size(self) -> int:
        return self._hashing.size

    def close(self) -> None:
        self._file.close()


def _block_count(lines: list[bytes], max_lines: int, max_bytes: int, held: int) -> int:
    """How many of `lines` (`held` bytes with their line breaks) make the next block: up
    to `max_lines`, as many as fit in `max_bytes`, and at least one."""
    if held <= max_bytes:
        return min(len(lines), max_lines)
    ends = itertools.accumulate(len(line) + 1 for line in itertools.islice(lines, max_lines))
    return max(1, bisect.bisect_right(list(ends), max_bytes))


def _line_block(first: int, lines: list[bytes], too_long: dict[int, LongLine]) -> LineBlock:
    """`lines` (a list of its own, consumed) as a block, taking their over-long figures."""
    end = first + len(lines)
    long = {number: too_long.pop(number) for number in [n for n in too_long if n < end]}
    lines.append(b"")
    return LineBlock(first, b"\n".join(lines), long)
