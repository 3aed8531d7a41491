"""Reading a file as received: hashed byte for byte, gunzipped when gzip, split into lines.

The SHA-256 is taken over the raw bytes exactly as they arrived (compressed, if they
arrived compressed), because that is the file the provider can produce again and compare.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"


class SourceError(Exception):
    """The file as a whole cannot be read (empty, truncated, not gzip although it says so)."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


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
    """Incremental gunzip that hands over every byte it could decompress before failing.

    `gzip.GzipFile` refuses a whole buffer when the stream turns out truncated; for evidence
    we want every complete line that did arrive, then a clear error for the rest.
    Concatenated gzip members (common for rotated logs) are read one after another.
    """

    def __init__(self, raw: BinaryIO, *, read_buffer: int) -> None:
        self.raw = raw
        self.read_buffer = read_buffer
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while True:
            if self._pending:
                data = self._inflate.decompress(self._pending, len(buffer))
                self._pending = self._inflate.unconsumed_tail
            else:
                chunk = self.raw.read(self.read_buffer)
                if not chunk:
                    if not self._inflate.eof:
                        raise EOFError("the compressed stream ends before its end marker")
                    return 0
                data = self._inflate.decompress(chunk, len(buffer))
                self._pending = self._inflate.unconsumed_tail
            if self._inflate.eof and self._inflate.unused_data:
                rest = self._inflate.unused_data + self._pending
                self._inflate = zlib.decompressobj(wbits=31)
                self._pending = rest
            if data:
                buffer[: len(data)] = data
                return len(data)


@dataclass
class RawLine:
    number: int
    data: bytes  # without the line ending
    too_long: bool = False


@dataclass
class LineBlock:
    """Consecutive lines of a file: `data` holds each line ending in b"\\n" (an over-long
    line by its first 200 bytes, its number in `too_long`); the first is line `first`."""

    first: int
    data: bytes
    too_long: frozenset[int]

    def lines(self) -> Iterator[RawLine]:
        lines = self.data.split(b"\n")
        lines.pop()  # after the last line break
        for number, data in enumerate(lines, self.first):
            too_long = number in self.too_long
            yield RawLine(number, data if too_long else data.rstrip(b"\r"), too_long)


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
        return LineBlock(self.first, data, frozenset())


class RawSource:
    """A file opened for ingest. Iterate `lines()`, then read `sha256` and `size`.

    `read_buffer` is how many bytes are read at a time (`IngestTuning.read_buffer`).
    """

    def __init__(self, path: Path, *, max_line_bytes: int, read_buffer: int) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.read_buffer = read_buffer
        self._file = self.path.open("rb")
        self._hashing = _HashingReader(self._file)
        buffered = io.BufferedReader(self._hashing, buffer_size=read_buffer)
        self.compressed = buffered.peek(2)[:2] == GZIP_MAGIC
        self._stream: BinaryIO = (
            io.BufferedReader(
                _GunzipReader(buffered, read_buffer=read_buffer), buffer_size=read_buffer
            )
            if self.compressed
            else buffered
        )
        self.lines_read = 0

    def lines(self) -> Iterator[RawLine]:
        """Yield each line (1-based numbers); an over-long line is flagged and not kept whole."""
        for number, (data, too_long) in enumerate(self._lines(), 1):
            yield RawLine(number, data if too_long else data.rstrip(b"\r\n"), too_long)

    def line_blocks(self, max_lines: int, *, spans: bool = False) -> Iterator[LineBlock | FileSpan]:
        """The lines in blocks of up to `max_lines`, as one byte string each, for handing to
        another process whole. If the file turns out damaged, the blocks read before the
        damage come first, then the `SourceError`.

        With `spans`, the blocks of a plain file are `FileSpan`s where they can be (every
        block but the last, up to the first over-long line), for worker processes that read
        them from the file themselves."""
        if self.compressed:
            return self._line_blocks_by_line(max_lines)
        return self._line_blocks_by_buffer(max_lines, spans=spans)

    def _line_blocks_by_line(self, max_lines: int) -> Iterator[LineBlock]:
        """`line_blocks` a line at a time: a damaged gzip stream fails in the middle of a
        read, and reading by line keeps every complete line before the damage."""
        pieces: list[bytes] = []
        too_long: list[int] = []
        first = 1
        failure: SourceError | None = None
        try:
            for number, (data, long) in enumerate(self._lines(), 1):
                if long:
                    too_long.append(number)
                    data += b"\n"  # a stand-in (its first bytes) for the line not kept
                elif data[-1:] != b"\n":
                    data += b"\n"  # the last line of a file without a final line break
                pieces.append(data)
                if len(pieces) >= max_lines:
                    yield LineBlock(first, b"".join(pieces), frozenset(too_long))
                    first += len(pieces)
                    pieces, too_long = [], []
        except SourceError as exc:
            failure = exc
        if pieces:
            yield LineBlock(first, b"".join(pieces), frozenset(too_long))
        if failure is not None:
            raise failure

    def _line_blocks_by_buffer(
        self, max_lines: int, *, spans: bool = False
    ) -> Iterator[LineBlock | FileSpan]:
        """`line_blocks` of an uncompressed file, read a buffer at a time and split in C:
        the same blocks as reading it by line, for a fraction of the main process's time."""
        read, size = self._stream.read, self.read_buffer
        limit = self.max_line_bytes
        lines: list[bytes] = []  # read, not yet in a block
        first = 1  # the number of lines[0]
        too_long: set[int] = set()
        carry = b""  # the start of a line the last read cut off
        skipping = False  # in the rest of an over-long line already stood in for
        number = 0
        # Where lines[0] starts in the file, while the blocks are the file's bytes as they
        # are (an over-long line is cut short in its block, and after one no span is made).
        position: int | None = 0 if spans else None
        try:
            while chunk := read(size):
                if skipping:
                    end = chunk.find(b"\n")
                    if end < 0:
                        continue
                    chunk, skipping = chunk[end + 1 :], False
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                complete = data[:cut].split(b"\n")
                complete.pop()  # after the last line break
                if len(carry) > limit:  # a line still running is already too long
                    complete.append(carry)
                    carry, skipping = b"", True
                for offset, line in enumerate(complete, number + 1):
                    if len(line) > limit:
                        too_long.add(offset)
                if too_long or skipping:
                    position = None
                number += len(complete)
                lines += complete
                while len(lines) >= max_lines:
                    block = self._line_block(first, lines[:max_lines], too_long)
                    if position is None:
                        yield block
                    else:
                        size = len(block.data)
                        digest = hashlib.sha256(block.data).digest()
                        yield FileSpan(first, str(self.path), position, size, digest)
                        position += size
                    first += max_lines
                    del lines[:max_lines]
            if carry:
                number += 1
                lines.append(carry)
                if len(carry) > limit:
                    too_long.add(number)
        finally:
            self.lines_read = number
        if lines:
            yield self._line_block(first, lines, too_long)
        if number == 0:
            raise SourceError("the file is empty: there is nothing to ingest", line=0)

    def _line_block(self, first: int, lines: list[bytes], too_long: set[int]) -> LineBlock:
        """Lines as a block; an over-long line is replaced by its first bytes, as by line."""
        long = frozenset(n for n in too_long if n < first + len(lines))
        keep = min(200, self.max_line_bytes + 1)  # what reading by line keeps of it
        for number in long:
            lines[number - first] = lines[number - first][:keep]
            too_long.discard(number)
        lines.append(b"")
        return LineBlock(first, b"\n".join(lines), long)

    def _lines(self) -> Iterator[tuple[bytes, bool]]:
        """Each line with its line break, or the first bytes of an over-long line, flagged."""
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
                    # Over-long: skip the rest of the line without holding it in memory.
                    while True:
                        rest = readline(self.read_buffer)
                        if not rest or rest[-1:] == b"\n":
                            break
                    yield data[:200], True
                    continue
                yield data, False
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
