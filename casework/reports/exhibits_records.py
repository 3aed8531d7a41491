"""Exhibits that keep the records apart from the analysis (issue #18, item 2).

FRE 803(6) / 902(11): a business-record exhibit holds the source system's own fields and
the hash of each stored row, nothing Pacta added. What Pacta derived (the case group, the
basis of attribution, the signals fired, the totals) is in exhibits labelled as FRE 1006
summaries or analysis. And the records are traceable to the files they came from: the
native files the ingest batches hashed (FRE 902(14)), whole or as byte-exact excerpts
with their offsets, and the baseline population behind every cohort comparison.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import mimetypes
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from casework.reports.exhibit_files import ExhibitSet
from casework.reports.redaction import Kind, Redactor, Rule
from casework.reports.snapshot import Snapshot, attribution_kinds
from evidence.detectors.measurements import MEASUREMENT_COLUMNS, measurements_file
from evidence.ingest.service import native_file
from evidence.models import DetectionRun, IngestBatch, TermsVersion

SUMMARY = "FRE 1006 summary"
ANALYSIS = "analysis"
NATIVE = "native source (FRE 902(14))"
CUSTODY = "custody record"
GZIP_MAGIC = b"\x1f\x8b"


def records_exhibits_write(exhibits: ExhibitSet, snapshot: Snapshot, redactor: Redactor) -> None:
    """The derived per-account exhibits, the baseline population and the natives."""
    data = snapshot.data
    if not redactor.public:
        _attribution(exhibits, data, redactor)
        _account_totals(exhibits, data, redactor)
    if data["detection"]:
        baseline_write(exhibits, data, redactor)
    natives_write(exhibits, data, redactor)


def _account_header(redactor: Redactor) -> str:
    return "account_pseudonym" if redactor.rule(Kind.ACCOUNT) == Rule.PSEUDONYM else "account_id"


def _attribution(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    rows = (
        [
            redactor.account(a["account_id"], where="attribution.csv"),
            a["group"],
            "; ".join(attribution_kinds(a)),
            a["attribution"]["at"],
            " ".join(a["signals"]),
            sum(1 for r in a["assent"] if not r["version_imported"]),
        ]
        for a in data["accounts"]
    )
    exhibits.rows(
        "attribution.csv",
        "Attribution of the accounts",
        "Why each account is attributed to the respondent, the case group the report draws "
        "it in and the detection signals it fired (analysis, not a business record; the "
        "account system's own fields are in accounts.csv).",
        [
            _account_header(redactor),
            "case_group",
            "attribution_basis",
            "attributed_at",
            "signals_fired",
            "assent_versions_not_imported",
        ],
        rows,
        nature=ANALYSIS,
    )


def _account_totals(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    rows = (
        [
            redactor.account(a["account_id"], where="account-totals.csv"),
            a["group"],
            a["usage"]["requests"],
            a["usage"]["input_tokens"],
            a["usage"]["output_tokens"],
            a["usage"]["first_ts"] or "",
            a["usage"]["last_ts"] or "",
            len(a["assent"]),
        ]
        for a in data["accounts"]
    )
    exhibits.rows(
        "account-totals.csv",
        "Usage and assent totals per account",
        "Each attributed account's requests, tokens, first and last request in the case "
        "window and its number of assent records: a summary of usage.csv and assent.csv "
        "(FRE 1006).",
        [
            _account_header(redactor),
            "case_group",
            "requests",
            "input_tokens",
            "output_tokens",
            "first_request",
            "last_request",
            "assent_records",
        ],
        rows,
        nature=SUMMARY,
    )


def baseline_write(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    """Every other account's measurement in the run: the cohorts behind each finding's
    median and percentile (the case's own are in the findings).

    The public record gets the values without any account column, sorted by value within
    each detector and cohort: a customer in no case is not a party, and a pseudonym
    carried across signals would let a reader put its plan and volumes back together."""
    census = data["detection"].get("census") or {}
    if not census.get("measurements"):
        return  # a run made before runs kept their measurements: the methods say so
    run = DetectionRun.objects.get(pk=data["detection"]["run"]["id"])
    item = measurements_file(run)
    case_ids = {a["account_id"] for a in data["accounts"]}

    def measured() -> Iterator[list[str]]:
        with item.file.open("rb") as fh:
            reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8", newline=""))
            if tuple(next(reader)) != MEASUREMENT_COLUMNS:
                raise ValueError(f"{item.file_name}: not a measurements file")
            for row in reader:
                if row[2] not in case_ids:
                    yield row

    if redactor.public:
        header = ["detector", "detector_version", "cohort", "value", "fired"]
        rows = sorted(
            ([d, v, cohort, value, fired] for d, v, _, cohort, value, fired in measured()),
            key=lambda r: (r[0], r[2], float(r[3])),
        )
        theirs = "the case's accounts and every account id are left out"
    else:
        pseudonymised = redactor.rule(Kind.ACCOUNT) == Rule.PSEUDONYM
        header = ["detector", "detector_version", _account_header(redactor), "cohort"]
        header += ["value", "fired"]
        rows = (
            [d, v, redactor.pseudonym(Kind.ACCOUNT, a) if pseudonymised else a, c, x, f]
            for d, v, a, c, x, f in measured()
        )
        theirs = "the case's accounts are left out here and given in findings.csv"
    exhibit = exhibits.rows(
        "baseline.csv",
        "Baseline population",
        f"Every other account's measurement by every signal in detection run {run.pk}, "
        f"with its plan cohort: the population behind each cohort median and percentile "
        f"the findings cite (from the run's measurements file, SHA-256 {item.sha256}; "
        f"{theirs}).",
        header,
        rows,
        nature=ANALYSIS,
    )
    if redactor.rule(Kind.ACCOUNT) != Rule.KEEP:
        said = "left out" if redactor.public else Rule.PSEUDONYM.value
        redactor.log.note(Kind.ACCOUNT.value, said, where="baseline.csv", count=exhibit.rows)


# --- natives ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Native:
    """A batch's file as received, wherever Pacta keeps it."""

    file_name: str
    size: int
    open: Callable[[], BinaryIO]
    # A customer record names customers; a Terms text names nobody.
    names_customers: bool = True


def native_of(batch) -> Native | None:
    """The kept copy of a batch's file: the evidence file kept at ingest, or for a Terms
    batch the version's text, which is the file's bytes decoded (UTF-8, checked)."""
    item = native_file(batch["raw_sha256"])
    if item is not None:
        return Native(item.file_name, item.size, lambda: item.file.open("rb"))
    if batch["kind"] != IngestBatch.Kind.TERMS:
        return None
    version = TermsVersion.objects.filter(text_sha256=batch["raw_sha256"]).first()
    if version is None:
        return None
    raw = version.text.encode("utf-8")
    if hashlib.sha256(raw).hexdigest() != batch["raw_sha256"]:
        return None
    return Native(batch["file_name"], len(raw), lambda: io.BytesIO(raw), names_customers=False)


def natives_write(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    """Each ingest batch's native file, whole when it is small enough and as byte-exact
    excerpts (the lines naming a case account, with their offsets) when not; then the
    list of them all. Only counsel's edition carries customer files: a native file cannot
    be pseudonymised and stay the file its hash covers."""
    limit = settings.PACTA_REPORT_NATIVE_WHOLE_MAX_BYTES
    case_ids = [a["account_id"] for a in data["accounts"]]
    listed = []
    for batch in data["batches"]:
        native = native_of(batch)
        produced, exhibit_name = "not kept by Pacta (the provider's archive holds it)", ""
        if native is not None and native.names_customers and not redactor.counsel:
            produced = "withheld in this edition (it names identifiers the policy removes)"
        elif native is not None and native.size <= limit:
            exhibit_name = _native_whole(exhibits, batch, native)
            produced = "whole file"
        elif native is not None:
            exhibit_name = _native_excerpts(exhibits, batch, native, case_ids)
            produced = f"excerpts (the file is larger than {limit:,} bytes)"
        listed.append(
            [
                batch["id"],
                batch["kind"],
                redactor.text(batch["file_name"], field_name="file name"),
                batch["raw_sha256"],
                batch["raw_size"],
                produced,
                exhibit_name,
            ]
        )
    exhibits.rows(
        "natives.csv",
        "Native source files",
        "Every ingest batch behind the case's records, with the SHA-256 of its file as "
        "received and how this edition produces that file.",
        ["batch", "kind", "file_name", "raw_sha256", "raw_size", "produced_as", "exhibit"],
        listed,
        nature=CUSTODY,
    )


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:80] or "file"


def _native_whole(exhibits: ExhibitSet, batch, native: Native) -> str:
    # A Terms text names no customer, so every edition carries it; the public edition's
    # guard (`exhibit_public_ok`) refuses any other native by its "native-" name.
    prefix = "native" if native.names_customers else "terms"
    name = f"{prefix}-{batch['id']}-{_safe_name(native.file_name)}"

    def chunks() -> Iterator[bytes]:
        with native.open() as fh:
            while chunk := fh.read(1024 * 1024):
                yield chunk

    exhibit = exhibits.chunks(
        name,
        f"Native file of batch {batch['id']}",
        f"The {batch['kind']} file of ingest batch {batch['id']} byte for byte as received; "
        f"its SHA-256 is the batch's ({batch['raw_sha256']}).",
        chunks(),
        mime=mimetypes.guess_type(name)[0] or "application/octet-stream",
        nature=NATIVE,
    )
    if exhibit.sha256 != batch["raw_sha256"]:
        raise ValueError(
            f"batch {batch['id']}: the kept native hashes to {exhibit.sha256}, not the "
            f"{batch['raw_sha256']} recorded at ingest"
        )
    return name


def native_lines(fh) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, bytes without the line break) of a file as read, in the
    decompressed stream when it is gzip."""
    head = fh.read(2)
    fh.seek(0)
    stream = gzip.GzipFile(fileobj=fh) if head == GZIP_MAGIC else fh
    offset = 0
    for number, line in enumerate(stream, start=1):
        yield number, offset, line.rstrip(b"\r\n")
        offset += len(line)


def _native_excerpts(exhibits: ExhibitSet, batch, native: Native, case_ids) -> str:
    name = f"native-{batch['id']}-excerpts.ndjson"
    wanted = re.compile(b"|".join(re.escape(a.encode()) for a in sorted(case_ids, key=len)[::-1]))

    def chunks() -> Iterator[bytes]:
        with native.open() as fh:
            compressed = fh.read(2) == GZIP_MAGIC
            fh.seek(0)
            yield _ndjson(
                {
                    "batch": batch["id"],
                    "file_name": native.file_name,
                    "file_sha256": batch["raw_sha256"],
                    "file_size": batch["raw_size"],
                    "offsets": "in the decompressed stream" if compressed else "in the file",
                    "selected": "every line holding an account id of the case (and a CSV "
                    "file's header line)",
                }
            )
            for number, offset, line in native_lines(fh):
                # A CSV file's first line names its columns: the excerpts carry it too.
                header = number == 1 and batch["format"] == "csv"
                if header or (case_ids and wanted.search(line)):
                    entry = {
                        "line": number,
                        "offset": offset,
                        "length": len(line),
                        "sha256": hashlib.sha256(line).hexdigest(),
                    }
                    try:
                        entry["text"] = line.decode("utf-8")
                    except UnicodeDecodeError:
                        entry["base64"] = base64.b64encode(line).decode("ascii")
                    yield _ndjson(entry)

    exhibits.chunks(
        name,
        f"Native excerpts of batch {batch['id']}",
        f"The lines of ingest batch {batch['id']}'s {batch['kind']} file that hold an "
        "account of the case, byte for byte, each with its line number, byte offset, length "
        f"and SHA-256; the whole file (SHA-256 {batch['raw_sha256']}) is kept as evidence "
        "and produced on request, and each excerpt is found in it at its offset.",
        chunks(),
        mime="application/x-ndjson",
        nature=NATIVE,
    )
    return name


def _ndjson(value) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
