"""Natives: every exhibit and evidence file as a file of its own, control-numbered, and the
Concordance load file that lists them for the other side's eDiscovery platform.

Each file gets the next control number (PACTA-000001, ...) and is named by it
(`natives/PACTA-000001_usage.csv`). A file larger than the production's per-file limit is
split into volumes, each with a control number of its own: a CSV at row boundaries, each
volume after the first repeating the header row so it loads on its own; any other file at
the byte limit. The load file gives each volume its own SHA-256 and the SHA-256 of the whole
file (the hash the filing copy cites), so the joined volumes can be checked against it.

Files are copied (or moved, when the build wrote them and they fit) in chunks, hashed as
they pass: nothing is ever held in memory whole, however large the case.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

CONTROL_PREFIX = "PACTA"
NATIVES = "natives"
CHUNK = 4 * 1024 * 1024
# Concordance's defaults: þ (U+00FE) around every field, DC4 (ASCII 20) between them.
QUOTE, DELIMITER = "\u00fe", "\x14"
LOAD_FILE_FIELDS = (
    ("CONTROL_NUMBER", "control"),
    ("FILE_NAME", "file_name"),
    ("NATIVE_PATH", "path"),
    ("SHA256", "sha256"),
    ("FILE_SIZE", "size"),
    ("CUSTODIAN", "custodian"),
    ("SOURCE", "source"),
    ("DATE", "date"),
    ("EXHIBIT", "exhibit"),
    ("VOLUME", "volume_label"),
    ("WHOLE_SHA256", "whole_sha256"),
)


class NativeError(RuntimeError):
    """A native cannot be produced as it should be (changed on disk, a row too large)."""


@dataclass
class Native:
    """One file in `natives/`: a whole exhibit or evidence file, or one volume of it."""

    control: str
    file_name: str
    path: str
    sha256: str
    size: int
    custodian: str
    source: str
    date: str
    exhibit: int | None
    volume: int
    volumes: int
    whole_sha256: str
    header_repeated: bool = False

    @property
    def volume_label(self) -> str:
        return f"{self.volume} of {self.volumes}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ControlNumbers:
    """PACTA-000001, PACTA-000002, ... in the order files are produced."""

    def __init__(self, prefix: str = CONTROL_PREFIX) -> None:
        self.prefix = prefix
        self.next = 1

    def take(self) -> str:
        number = f"{self.prefix}-{self.next:06d}"
        self.next += 1
        return number


@dataclass
class NativeSource:
    """What to produce: where the bytes are, what they are called, what they hash to."""

    file_name: str
    sha256: str
    size: int
    source: str
    date: str
    exhibit: int | None
    csv: bool
    path: Path | None = None  # a file this build wrote: moved when it fits
    opener: Any = None  # else a callable returning a binary file (a stored evidence file)


def _safe_name(name: str) -> str:
    """A file name any platform takes: letters, digits, dot, dash and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "file"


def natives_write(
    *, root: Path, sources: list[NativeSource], numbers: ControlNumbers, limit: int,
    custodian: str,
) -> list[Native]:  # fmt: skip
    """Produce every source into `root/natives/`, in order; returns the files written."""
    folder = root / NATIVES
    folder.mkdir(parents=True, exist_ok=True)
    produced: list[Native] = []
    for source in sources:
        produced.extend(_produce(root, folder, source, numbers, limit, custodian))
    return produced


def _produce(root, folder, source: NativeSource, numbers, limit, custodian) -> list[Native]:
    safe = _safe_name(source.file_name)

    def native(control, path: Path, sha256, size, volume, volumes, repeated=False) -> Native:
        return Native(
            control=control,
            file_name=source.file_name,
            path=path.relative_to(root).as_posix(),
            sha256=sha256,
            size=size,
            custodian=custodian,
            source=source.source,
            date=source.date,
            exhibit=source.exhibit,
            volume=volume,
            volumes=volumes,
            whole_sha256=source.sha256,
            header_repeated=repeated,
        )

    if source.size <= limit and source.path is not None:
        # Written by this build and small enough: moved, and hashed once more where it lies.
        control = numbers.take()
        target = folder / f"{control}_{safe}"
        shutil.move(source.path, target)
        sha256 = file_sha256(target)
        if sha256 != source.sha256:
            raise NativeError(f"{source.file_name} changed on disk before it was produced")
        return [native(control, target, sha256, target.stat().st_size, 1, 1)]

    with _open(source) as fh:
        whole = hashlib.sha256()
        parts: list[tuple[str, Path, str, int, bool]] = []
        chunks = _records(fh, limit) if source.csv else _pieces(fh, limit)
        header: bytes | None = None
        part = None
        for index, (data, record_start) in enumerate(chunks):
            whole.update(data)
            if source.csv and index == 0:
                header = data
            new_part = part is None or (record_start and part.size + len(data) > limit)
            if new_part:
                if part is not None:
                    parts.append(part.close())
                control = numbers.take()
                suffix = "" if source.size <= limit else f".{len(parts) + 1:03d}"
                part = _Part(control, folder / f"{control}_{safe}{suffix}")
                if source.csv and parts and header is not None:
                    part.write(header)
                    part.repeated = True
            part.write(data)
        if part is None:  # an empty file is one empty native
            control = numbers.take()
            part = _Part(control, folder / f"{control}_{safe}")
        parts.append(part.close())
    if whole.hexdigest() != source.sha256:
        raise NativeError(
            f"{source.file_name} hashes to {whole.hexdigest()}, not the {source.sha256} "
            "recorded for it: it changed before it was produced"
        )
    if source.path is not None:
        source.path.unlink()
    for _, path, _, size, _ in parts:
        if size > limit:
            raise NativeError(
                f"{source.file_name}: volume {path.name} is {size:,} bytes, over the "
                f"{limit:,}-byte limit (a single row larger than the limit)"
            )
    return [
        native(control, path, sha256, size, number, len(parts), repeated)
        for number, (control, path, sha256, size, repeated) in enumerate(parts, start=1)
    ]


class _Part:
    def __init__(self, control: str, path: Path) -> None:
        self.control, self.path = control, path
        self.fh = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.repeated = False

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.digest.update(data)
        self.size += len(data)

    def close(self) -> tuple[str, Path, str, int, bool]:
        self.fh.close()
        return self.control, self.path, self.digest.hexdigest(), self.size, self.repeated


def _open(source: NativeSource) -> IO[bytes]:
    return source.path.open("rb") if source.path is not None else source.opener()


def _pieces(fh: IO[bytes], limit: int) -> Iterator[tuple[bytes, bool]]:
    """Any file, in pieces that each start a volume when the one before is full."""
    size = min(CHUNK, limit)
    while data := fh.read(size):
        yield data, True


def _records(fh: IO[bytes], limit: int) -> Iterator[tuple[bytes, bool]]:
    """A CSV file as its records (the header first), batched up to a megabyte; a batch
    starts at a record boundary, so a volume may begin there. A line ends a record only
    when the quotes before it are balanced: a quoted field may hold a line break."""
    batch = bytearray()
    quotes = 0
    cap = min(1024 * 1024, max(1, limit // 4))
    first = True
    for line in fh:
        batch += line
        quotes += line.count(b'"')
        if quotes % 2:  # inside a quoted field: the record goes on
            if len(batch) > limit:
                raise NativeError(
                    f"a quoted field runs on for more than {limit:,} bytes: not a CSV file"
                )
            continue
        if first or len(batch) >= cap:
            yield bytes(batch), True
            batch.clear()
            first = False
    if batch:
        yield bytes(batch), True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while data := fh.read(CHUNK):
            digest.update(data)
    return digest.hexdigest()


def load_file_write(path: Path, natives: list[Native]) -> None:
    """The Concordance DAT file: a header row, then one row per native, UTF-8 with a byte
    order mark (as eDiscovery platforms expect for non-ASCII names), CRLF line ends."""

    def field(value: Any) -> str:
        text = "" if value is None else str(value)
        # The delimiters cannot be escaped in a DAT file: a name holding one is changed.
        text = text.replace(QUOTE, "_").replace(DELIMITER, "_")
        return QUOTE + re.sub(r"[\r\n]+", " ", text) + QUOTE

    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(DELIMITER.join(field(name) for name, _ in LOAD_FILE_FIELDS) + "\r\n")
        for native in natives:
            row = [getattr(native, attribute) for _, attribute in LOAD_FILE_FIELDS]
            out.write(DELIMITER.join(field(value) for value in row) + "\r\n")
        out.flush()
        os.fsync(out.fileno())


def load_file_read(path: Path) -> list[dict[str, str]]:
    """The rows of a DAT file written by `load_file_write`, by field name."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lines = [line for line in fh.read().split("\r\n") if line]
    names = [cell.strip(QUOTE) for cell in lines[0].split(DELIMITER)]
    return [
        dict(zip(names, (cell.strip(QUOTE) for cell in line.split(DELIMITER)), strict=True))
        for line in lines[1:]
    ]
