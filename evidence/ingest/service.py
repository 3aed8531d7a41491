"""`ingest_file`: one file into the record, all or (in default mode) all that is valid.

Everything a file adds is written in one transaction with its IngestBatch and ledger
entry: a crash half-way leaves nothing behind. In default mode valid lines are committed
and rejected lines are kept, with their reasons, as an evidence file of the batch; in
strict mode one bad line refuses the whole file, and only the refusal is recorded.

What one file may cost is bounded (`IngestTuning`): blocks by lines and bytes, a rejected
line kept as its first bytes with its length and hash, a compressed file refused once it
expands past its caps.
"""

from __future__ import annotations

import base64
import dataclasses
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from evidence.custody import events
from evidence.custody.ledger import Actor, actor_label
from evidence.ingest.formats import (
    FORMATS,
    USAGE_ONLY_FORMATS,
    HeaderError,
    litellm_key_owners,
    litellm_key_teams,
    records,
)
from evidence.ingest.loaders import LOADERS
from evidence.ingest.records import VALIDATORS, RecordError
from evidence.ingest.source import KeptLine, RawSource, SourceError
from evidence.ingest.tuning import DEFAULT_TUNING, IngestTuning
from evidence.ingest.usage_blocks import (
    UsageBlockPipeline,
    ingest_workers,
    usage_blocks_from_records,
)
from evidence.models import ApiKey, EvidenceItem, IngestBatch
from evidence.services import evidence_item_store

KINDS = ("accounts", "usage", "assent", "probes", "serves", "billing")
# How often (in lines) an ingest of records other than usage reports its progress; usage
# reports once a block.
PROGRESS_EVERY_LINES = 1000
ERRORS_SHOWN = 100


class IngestUsageError(ValueError):
    """The request itself is wrong (unknown kind or format): nothing was read."""


@dataclass
class IngestResult:
    """What `ingest --json` prints (DESIGN.md's contract, extended never renamed)."""

    kind: str
    format: str
    file: str
    batch: int | None = None
    sha256: str = ""
    size: int = 0
    status: str = IngestBatch.Status.COMMITTED
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_total: int = 0
    updated: int = 0
    same_as_batch: int | None = None
    rejects_file: int | None = None

    @property
    def refused(self) -> bool:
        return self.status == IngestBatch.Status.REJECTED

    def refusal_reason(self) -> str:
        """Why a refused file was refused, naming the line: the file-wide reason (a cap, an
        empty file) if there is one, else the first bad line (strict mode)."""
        stated = f"The file was refused and nothing from it was stored (batch {self.batch})."
        whole = [e for e in self.errors if e["field"] == "file"]
        first = whole[-1] if whole else (self.errors[0] if self.errors else None)
        if whole:
            stated += f" {first['message']}"
        elif first:
            field_named = f", field {first['field']}" if first["field"] else ""
            stated += f" First error at line {first['line']}{field_named}: {first['message']}"
            if self.errors_total > 1:
                stated += f" (and {self.errors_total - 1} more error(s))"
        return stated

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "sha256": self.sha256,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
            "errors_total": self.errors_total,
            "kind": self.kind,
            "format": self.format,
            "file": self.file,
            "size": self.size,
            "status": self.status,
            "updated": self.updated,
            "same_as_batch": self.same_as_batch,
            "rejects_file": self.rejects_file,
        }


class _Rejects:
    """Every rejected line, with its reason, spooled to disk (kept as evidence later).

    One JSON object a line (the README's Ingest section documents it): `line`, `field`,
    `message`, and for a line of the file its `length` and `sha256` (of its bytes as
    received, without the line ending) and its first bytes as `raw` (UTF-8 text) or
    `raw_base64`, with `truncated` true when those are not the whole line.

    Past `max_bytes` of it the file is refused whole: tiny bad lines cost more evidence
    than they hold, and a file that is mostly bad is not one to take in part.
    """

    def __init__(self, *, file_name: str, max_bytes: int) -> None:
        self.file = tempfile.TemporaryFile(prefix="pacta-rejects-")  # noqa: SIM115 - closed by ingest_file
        self.file_name = file_name
        self.max_bytes = max_bytes
        self.written = 0
        self.shown: list[dict[str, Any]] = []
        self.total = 0
        self.lines = 0

    def add(self, line: int, field_name: str | None, message: str, kept: KeptLine | None) -> None:
        error = {"line": line, "field": field_name, "message": message}
        self.total += 1
        if kept is not None:
            self.lines += 1
        if len(self.shown) < ERRORS_SHOWN:
            self.shown.append(error)
        entry: dict[str, Any] = dict(error)
        if kept is not None:
            entry.update(_kept_entry(kept))
        self._write(entry)
        if self.written > self.max_bytes:
            raise SourceError(
                f"{self.file_name} was refused: its rejected lines passed {self.max_bytes:,} "
                f"bytes of evidence at line {line} (IngestTuning.max_rejects_bytes); a file "
                "this bad is not taken in part",
                line=line,
                refuses_file=True,
            )

    def file_error(self, line: int, message: str) -> None:
        """Why the file as a whole stopped: shown however many lines were rejected before,
        and written whatever the rejects file holds already."""
        error = {"line": line, "field": "file", "message": message}
        self.shown.append(error)
        self.total += 1
        self._write(error)

    def _write(self, entry: dict[str, Any]) -> None:
        data = orjson.dumps(entry) + b"\n"
        self.written += len(data)
        self.file.write(data)


def _kept_entry(kept: KeptLine) -> dict[str, Any]:
    """A rejected line in the rejects file: its figures and its first bytes."""
    entry: dict[str, Any] = {"length": kept.length, "sha256": kept.sha256}
    prefix, truncated = kept.prefix, len(kept.prefix) < kept.length
    try:
        entry["raw"] = prefix.decode("utf-8")
    except UnicodeDecodeError as exc:
        if truncated and exc.reason == "unexpected end of data":
            # The first bytes end inside a character: keep the whole ones before it.
            entry["raw"] = prefix[: exc.start].decode("utf-8")
        else:
            entry["raw_base64"] = base64.b64encode(prefix).decode("ascii")
    entry["truncated"] = truncated
    return entry


class _Refused(Exception):
    """Raised inside the transaction to roll back everything the file would have added."""


def ingest_kind_check(*, kind: str, fmt: str) -> None:
    """Refuse an unknown kind or format, or a format that cannot carry the kind, before a
    byte is read (an upload waiting for a worker is checked when it is received)."""
    if kind not in KINDS:
        raise IngestUsageError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise IngestUsageError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt in USAGE_ONLY_FORMATS and kind != "usage":
        raise IngestUsageError(f"the {fmt} format carries usage events only, not {kind}")


def ingest_file(
    *,
    actor: Actor,
    kind: str,
    path: Path,
    fmt: str = "native",
    strict: bool = False,
    source: str = IngestBatch.Source.CLI,
    file_name: str | None = None,
    progress=None,
    tuning: IngestTuning = DEFAULT_TUNING,
) -> IngestResult:
    """Ingest one file of `kind` in format `fmt`; see the module docstring for the modes.

    `progress`, if given, is called now and then with the bytes of the file read so far,
    the lines read and the lines rejected.

    `tuning` sets buffer, block and chunk sizes, which never change what is stored, and
    the caps that bound what one file may cost.
    """
    ingest_kind_check(kind=kind, fmt=fmt)
    path = Path(path)
    file_name = file_name or path.name
    result = IngestResult(kind=kind, format=fmt, file=file_name)
    label, _ = actor_label(actor)
    collector = actor if getattr(actor, "is_authenticated", False) else None
    started_at = timezone.now()
    if tuning.max_expanded_bytes is None:
        tuning = dataclasses.replace(
            tuning, max_expanded_bytes=settings.PACTA_INGEST_MAX_EXPANDED_BYTES
        )
    keep = tuning.reject_prefix_bytes
    rejects = _Rejects(file_name=file_name, max_bytes=tuning.max_rejects_bytes)
    raw = RawSource(
        path, name=file_name, max_line_bytes=settings.PACTA_INGEST_MAX_LINE_BYTES, tuning=tuning
    )
    full_prompts = settings.PACTA_STORE_FULL_PROMPTS
    key_owners = (
        _litellm_key_owners(path, name=file_name, tuning=tuning) if fmt == "litellm" else None
    )
    # CSV quoting spans lines, so CSV is parsed in order; small files are not worth a fork.
    parallel = kind == "usage" and fmt != "csv" and path.stat().st_size >= tuning.parallel_min_bytes
    pipeline = UsageBlockPipeline(
        workers=ingest_workers(settings.PACTA_INGEST_WORKERS) if parallel else 0,
        block_lines=tuning.block_lines,
        block_bytes=tuning.block_bytes,
        slot_bytes=tuning.slot_bytes,
    )
    try:
        with transaction.atomic():
            batch = _batch_unsaved(
                kind=kind,
                source=source,
                format=fmt,
                file_name=file_name,
                raw_sha256="0" * 64,  # set below, once every byte has been read
                raw_size=0,
                collector=collector,
                collector_label=label,
                started_at=started_at,
                status=IngestBatch.Status.COMMITTED,
            )
            if kind == "usage":
                loader = LOADERS[kind](
                    batch=batch,
                    chunk_rows=tuning.usage_chunk_rows,
                    chunk_bytes=tuning.usage_chunk_bytes,
                )
            else:
                loader = LOADERS[kind](batch=batch, chunk_rows=tuning.record_chunk_rows)
            file_refused = False
            try:
                if kind == "usage":
                    if fmt == "csv":
                        blocks = usage_blocks_from_records(
                            records(raw.lines(), kind=kind, fmt=fmt),
                            batch_id=batch.pk,
                            full_prompts=full_prompts,
                            block_lines=tuning.block_lines,
                            block_bytes=tuning.block_bytes,
                            keep_bytes=keep,
                        )
                    else:  # NDJSON: by worker processes, or in this one for small files
                        blocks = pipeline.blocks(
                            raw,
                            fmt=fmt,
                            batch_id=batch.pk,
                            full_prompts=full_prompts,
                            keep_bytes=keep,
                            key_owners=key_owners,
                        )
                    lines_read = 0
                    for block in blocks:
                        for number, field_name, message, kept in block.errors:
                            rejects.add(number, field_name, message, kept)
                        loader.add_block(block)
                        lines_read += block.rows + len(block.errors)
                        if progress is not None:
                            progress(raw.size, lines_read, rejects.lines)
                else:
                    validate = VALIDATORS[kind]
                    for number, record, line in records(raw.lines(), kind=kind, fmt=fmt):
                        if progress is not None and number % PROGRESS_EVERY_LINES == 0:
                            progress(raw.size, number, rejects.lines)
                        if isinstance(record, RecordError):
                            rejects.add(number, record.field, record.message, _kept(line, keep))
                            continue
                        try:
                            loader.add(validate(record))
                        except RecordError as exc:
                            rejects.add(number, exc.field, exc.message, _kept(line, keep))
            except SourceError as exc:
                rejects.file_error(exc.line, str(exc))
                # An empty file or a decompression bomb adds nothing; a truncated one adds
                # its valid lines (default mode), with the truncation reported.
                file_refused = exc.refuses_file
            except HeaderError as exc:
                rejects.add(1, exc.field, exc.message, None)
                file_refused = True
            loader.finish()
            raw.finish()
            result.sha256, result.size = raw.sha256, raw.size
            result.rejected = rejects.lines
            result.errors, result.errors_total = rejects.shown, rejects.total
            if file_refused or (strict and rejects.total):
                raise _Refused
            result.accepted, result.duplicates = loader.accepted, loader.duplicates
            _native_keep(actor=actor, path=path, batch=batch, result=result)
            result.updated = len(getattr(loader, "updated", []))
            _batch_close(batch, result, loader.digest.hexdigest(), rejects, actor)
            extra: dict[str, Any] = {}
            if kind == "accounts":
                # The profile versions this batch recorded, whose content hashes its
                # rows_digest covers in order: verification rebuilds the digest from them
                # and compares it with this entry (older entries lack the key).
                extra["account_versions"] = loader.versions
            if result.updated:
                extra["updated_accounts"] = loader.updated[:1000]
            events.batch_ingested(
                actor=actor, batch=batch, same_as_batch=result.same_as_batch, extra=extra
            )
    except _Refused:
        # The refusal is recorded durably: a file that was sent and refused is part of the
        # record even if the caller's own transaction later rolls back.
        with transaction.atomic(durable=True):
            batch = _batch_unsaved(
                kind=kind,
                source=source,
                format=fmt,
                file_name=file_name,
                raw_sha256=result.sha256,
                raw_size=result.size,
                collector=collector,
                collector_label=label,
                started_at=started_at,
                status=IngestBatch.Status.REJECTED,
            )
            result.status = IngestBatch.Status.REJECTED
            result.accepted = result.duplicates = 0
            _batch_close(batch, result, "", rejects, actor)
            events.batch_ingested(actor=actor, batch=batch, same_as_batch=result.same_as_batch)
    finally:
        pipeline.close()
        raw.close()
        rejects.file.close()
    return result


def _native_keep(*, actor: Actor, path: Path, batch: IngestBatch, result: IngestResult) -> None:
    """Keep the file as received beside the rows it added (FRE 902(14): the hash a report
    certifies must cover a file the other side can be given). Kept once per SHA-256: a
    file sent twice is one native. The copy is hashed as it is kept; a file changed on disk
    since it was parsed does not match and the ingest is refused whole."""
    if not settings.PACTA_INGEST_KEEP_NATIVE or native_file(result.sha256) is not None:
        return
    with path.open("rb") as fh:
        item = evidence_item_store(
            actor=actor,
            stream=fh,
            file_name=result.file,
            kind=EvidenceItem.Kind.RAW_UPLOAD,
            source=f"ingest batch {batch.pk} ({result.kind}, {result.format})",
            description=f"The {result.kind} file of ingest batch {batch.pk} as received",
        )
    if item.sha256 != result.sha256:
        item.file.delete(save=False)  # the row rolls back with the ingest; so must its file
        raise SourceError(
            f"{result.file} changed while it was ingested: read as {result.sha256}, kept as "
            f"{item.sha256}; nothing was added",
            line=0,
            refuses_file=True,
        )


def native_file(sha256: str) -> EvidenceItem | None:
    """The kept copy of an ingested file, by the SHA-256 its batch recorded."""
    return (
        EvidenceItem.objects.filter(kind=EvidenceItem.Kind.RAW_UPLOAD, sha256=sha256)
        .order_by("pk")
        .first()
    )


def _litellm_key_owners(path: Path, *, name: str, tuning: IngestTuning) -> dict[str, str]:
    """Who owns each key of a LiteLLM file (`formats.litellm_key_owners`): one read of the
    file before the ingest, and the owners earlier LiteLLM files recorded for its keys."""
    scan = RawSource(
        path, name=name, max_line_bytes=settings.PACTA_INGEST_MAX_LINE_BYTES, tuning=tuning
    )
    try:
        teams = litellm_key_teams(scan.lines())
    except SourceError:
        teams = {}  # a damaged file: the ingest itself reports where, and keeps what it can
    finally:
        scan.close()
    keys = sorted(teams)
    recorded: dict[str, str] = {}
    for start in range(0, len(keys), 10_000):
        recorded.update(
            ApiKey.objects.filter(
                key_id__in=keys[start : start + 10_000], batch__format="litellm"
            ).values_list("key_id", "account__account_id")
        )
    return litellm_key_owners(teams=teams, recorded=recorded)


def _kept(line, keep: int) -> KeptLine | None:
    return None if line is None else KeptLine.of(line, keep)


def _batch_unsaved(**fields: Any) -> IngestBatch:
    """A batch with its id reserved, inserted once and complete by `_batch_close`.

    The database refuses any UPDATE of a batch (migration 0100), so the batch is not
    inserted first and filled in later: the load's rows, accounts and rejects file name it
    by this id meanwhile (their foreign keys are checked at commit).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('evidence_ingestbatch', 'id'))")
        return IngestBatch(pk=cursor.fetchone()[0], **fields)


def _batch_close(
    batch: IngestBatch, result: IngestResult, digest: str, rejects: _Rejects, actor: Actor
) -> None:
    if rejects.total:
        rejects.file.seek(0)
        item = evidence_item_store(
            actor=actor,
            stream=rejects.file,
            file_name=f"batch-{batch.pk}-rejected-lines.ndjson",
            kind=EvidenceItem.Kind.INGEST_REJECTS,
            source=f"ingest of {result.file}",
            description=f"{rejects.total} rejected line(s) of {result.file}, with reasons",
        )
        batch.rejects_file = item
        result.rejects_file = item.pk
    batch.raw_sha256, batch.raw_size = result.sha256, result.size
    batch.accepted, batch.duplicates, batch.rejected = (
        result.accepted,
        result.duplicates,
        result.rejected,
    )
    batch.rows_digest = digest
    batch.finished_at = timezone.now()
    batch.save(force_insert=True)
    result.batch = batch.pk
    previous = (
        IngestBatch.objects.filter(kind=batch.kind, raw_sha256=batch.raw_sha256)
        .exclude(pk=batch.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    result.same_as_batch = previous


def progress_bar(total: int, stream=sys.stderr):
    """A progress callback drawing a bar on a terminal (bytes read of `total`)."""
    state = {"shown": -1}

    def update(done: int, lines: int = 0, rejected: int = 0) -> None:
        percent = min(100, done * 100 // total) if total else 100
        if percent != state["shown"]:
            state["shown"] = percent
            bar = "#" * (percent // 4)
            stream.write(f"\r[{bar:<25}] {percent:3d}%")
            stream.flush()

    return update
