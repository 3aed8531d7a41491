"""Exhibit files: each written once, hashed and counted as it is written, and compressed
beside itself for embedding (`casework.reports.exhibits` says what each exhibit holds)."""

from __future__ import annotations

import csv
import hashlib
import io
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from psycopg import sql
from zlib_ng import zlib_ng

from casework.reports.formulas import cell_neutralise

# A row in the CSV files is one line of the COPY stream; each write is this large at most.
CHUNK = 1024 * 1024


class ExhibitError(RuntimeError):
    """The record no longer holds the rows the snapshot counted: the report must not claim
    to summarise rows it cannot attach."""


@dataclass
class Exhibit:
    number: int
    file_name: str
    title: str
    description: str
    path: Path
    rows: int | None
    sha256: str
    size: int
    relationship: str = "Data"
    mime: str = "text/csv"
    # Business record (FRE 803(6)) or analysis: a report keeps the two apart.
    nature: str = "business record"
    # The bytes Flate-compressed, and their MD5, made while the exhibit was written (see
    # `_HashingWriter`; the manifest, written apart, has none): a streamed exhibit is
    # embedded from these.
    deflated: Path | None = None
    md5: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "file_name": self.file_name,
            "title": self.title,
            "description": self.description,
            "rows": self.rows,
            "sha256": self.sha256,
            "size": self.size,
            "relationship": self.relationship,
            "mime": self.mime,
            "nature": self.nature,
        }


def exhibit_compressor():
    """The Flate compressor for exhibits embedded in a report.

    On a usage exhibit of a million rows, compression is most of what the exhibit costs.
    zlib-ng's level 2 compresses these large, repetitive CSV files faster than zlib's
    level 1 and smaller (measured here on usage rows: 140 MB/s to 0.33 of the size,
    against 104 MB/s to 0.35; zlib-ng's level 1 is faster still, 223 MB/s, but to 0.46,
    and the signed PDF that carries it grows with it). The stream is ordinary Flate:
    every PDF reader inflates it.
    """
    return zlib_ng.compressobj(level=2)


class _HashingWriter(io.RawIOBase):
    """A file that hashes and counts what passes through it, and writes the same bytes
    Flate-compressed beside it with their MD5: what a PDF embedded-file stream holds.

    A second thread compresses while the rows are still arriving and this one hashes
    (zlib-ng and hashlib release the GIL), so a large exhibit costs little more than the
    COPY itself and need not be read and compressed again when embedded.
    """

    def __init__(self, path: Path, *, deflate: bool = True) -> None:
        self._fh = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.deflated = path.with_name(path.name + ".deflate") if deflate else None
        self.md5 = hashlib.md5(usedforsecurity=False) if deflate else None
        self._queue: queue.Queue = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._deflate, daemon=True)
        if deflate:  # a production carries its exhibits as files: nothing to embed
            self._thread.start()

    def _deflate(self) -> None:
        compressor = exhibit_compressor()
        with self.deflated.open("wb") as out:
            while (data := self._queue.get()) is not None:
                out.write(compressor.compress(data))
            out.write(compressor.flush())

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self._fh.write(data)
        self.digest.update(data)
        self.size += len(data)
        if self.md5 is not None:
            self._queue.put(data)
            self.md5.update(data)
        return len(data)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()
            if self.md5 is not None:
                self._queue.put(None)
                self._thread.join()
        super().close()


class ExhibitSet:
    """The exhibits of one report, numbered in the order they are added."""

    def __init__(self, workdir: Path, *, deflate: bool = True) -> None:
        self.workdir = workdir
        self.deflate = deflate
        self.items: list[Exhibit] = []

    def _add(self, file_name, title, description, writer, rows, **extra) -> Exhibit:
        writer.close()
        exhibit = Exhibit(
            number=len(self.items) + 1,
            file_name=file_name,
            title=title,
            description=description,
            path=self.workdir / file_name,
            rows=rows,
            sha256=writer.digest.hexdigest(),
            size=writer.size,
            deflated=writer.deflated,
            md5=writer.md5.digest() if writer.md5 is not None else None,
            **extra,
        )
        self.items.append(exhibit)
        return exhibit

    def rows(self, file_name, title, description, header, rows: Iterable, **extra) -> Exhibit:
        writer = _HashingWriter(self.workdir / file_name, deflate=self.deflate)
        text = io.TextIOWrapper(writer, encoding="utf-8", newline="", write_through=True)
        out = csv.writer(text, lineterminator="\n")
        out.writerow(header)
        count = 0
        for row in rows:
            out.writerow([cell_neutralise(cell) for cell in row])
            count += 1
        text.flush()
        text.detach()
        return self._add(file_name, title, description, writer, count, **extra)

    def json(self, file_name, title, description, payload: bytes, **extra) -> Exhibit:
        writer = _HashingWriter(self.workdir / file_name, deflate=self.deflate)
        writer.write(payload)
        return self._add(
            file_name, title, description, writer, None, mime="application/json", **extra
        )

    def chunks(self, file_name, title, description, chunks: Iterable[bytes], *, mime: str,
               rows: int | None = None, **extra) -> Exhibit:  # fmt: skip
        """A file written from byte chunks as they come (a native file, its excerpts)."""
        writer = _HashingWriter(self.workdir / file_name, deflate=self.deflate)
        for chunk in chunks:
            writer.write(chunk)
        return self._add(file_name, title, description, writer, rows, mime=mime, **extra)

    def copy(self, file_name, title, description, query: sql.Composed, **extra) -> Exhibit:
        """Stream a query's rows as CSV straight from PostgreSQL into the file; the row
        count is the server's (the COPY command tag), not a count of lines, since a
        quoted field may hold a line break. The query marks its own text cells
        (`formulas.sql_neutralised`): these rows never pass through Python."""
        writer = _HashingWriter(self.workdir / file_name, deflate=self.deflate)
        statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(query)
        with connection.cursor() as cursor:
            with cursor.cursor.copy(statement) as copy:
                # libpq hands COPY data over row by row; hashing, writing and compressing
                # a megabyte at a time costs a fraction of doing it per row.
                buffer = bytearray()
                for data in copy:
                    buffer += data
                    if len(buffer) >= CHUNK:
                        writer.write(buffer)
                        buffer.clear()
                writer.write(buffer)
            rows = cursor.cursor.rowcount
        return self._add(file_name, title, description, writer, rows, **extra)
