"""Exhibits: the records a report summarises, as CSV files that ride inside the PDF.

FRE 1006: a summary is admissible when the records it summarises are made available to
the other side. So each summary table in the report names the exhibit rows it adds up,
and the exhibits carry the rows: the case accounts' usage streamed straight from
PostgreSQL (`COPY ... TO STDOUT`, never held in Python), and the rest from the snapshot.
Every exhibit is hashed while it is written and its row count checked against the
snapshot, so an exhibit can only ever hold the rows the report was computed over.

The public edition gets aggregates only: no usage rows, no account rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from psycopg import sql
from zlib_ng import zlib_ng

from casework.case_rules import usage_window_literal
from casework.reports.formulas import cell_neutralise, sql_neutralised
from casework.reports.redaction import COUNSEL, PUBLIC, Redactor
from casework.reports.snapshot import Snapshot, attribution_kinds
from evidence.models import Finding, Link

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


def _case_table(snapshot: Snapshot) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rep_case_account")
        cursor.execute(
            "CREATE TEMP TABLE rep_case_account (account_id text PRIMARY KEY, grp text NOT NULL)"
        )
        cursor.executemany(
            "INSERT INTO rep_case_account VALUES (%s, %s)",
            [(a["account_id"], a["group"]) for a in snapshot.data["accounts"]],
        )
        cursor.execute("ANALYZE rep_case_account")


def _usage_filter(snapshot: Snapshot) -> sql.Composed:
    scope = snapshot.data["scope"]
    return sql.SQL(" AND ").join(
        [
            sql.SQL("u.id <= {}").format(sql.Literal(int(scope["max_usage_id"]))),
            usage_window_literal(start=scope["window_start"], end=scope["window_end"]),
        ]
    )


_TS = "to_char(u.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
USAGE_COLUMNS_COUNSEL = (
    sql_neutralised("u.request_id"),
    f"{_TS} AS ts",
    sql_neutralised("u.account_id"),
    "c.grp AS case_group",
    sql_neutralised("u.api_key_id"),
    sql_neutralised("u.model"),
    sql_neutralised("u.endpoint"),
    "u.input_tokens",
    "u.output_tokens",
    "host(u.source_ip) AS source_ip",
    sql_neutralised("u.user_agent"),
    sql_neutralised("u.end_user"),
    sql_neutralised("u.params::text", "params"),
    "u.status",
    "u.prompt_sha256",
    sql_neutralised("u.prompt_template_key"),
    sql_neutralised("u.prompt_excerpt"),
    sql_neutralised("u.prompt_text"),
    "u.batch_id",
    "u.row_sha256",
)
# Regulator: the network instead of the host, a stable pseudonym instead of the reseller's
# end-user id, no prompt text; the row hash stays, so counsel's copy can be matched to it.
USAGE_COLUMNS_REGULATOR = (
    sql_neutralised("u.request_id"),
    f"{_TS} AS ts",
    sql_neutralised("u.account_id"),
    "c.grp AS case_group",
    sql_neutralised("u.api_key_id"),
    sql_neutralised("u.model"),
    sql_neutralised("u.endpoint"),
    "u.input_tokens",
    "u.output_tokens",
    "CASE WHEN u.source_ip IS NULL THEN '' WHEN family(u.source_ip) = 4 "
    "THEN network(set_masklen(u.source_ip, 24))::text "
    "ELSE network(set_masklen(u.source_ip, 48))::text END AS source_network",
    sql_neutralised("u.user_agent"),
    "CASE WHEN u.end_user = '' THEN '' ELSE 'eu_' || "
    "left(encode(sha256(convert_to(u.end_user, 'UTF8')), 'hex'), 12) END AS end_user_pseudonym",
    sql_neutralised("u.params::text", "params"),
    "u.status",
    "u.prompt_sha256",
    sql_neutralised("u.prompt_template_key"),
    "u.batch_id",
    "u.row_sha256",
)


def exhibits_write(*, snapshot: Snapshot, redactor: Redactor, workdir: Path, report_data: bytes,
                   progress=None, deflate: bool = True) -> list[Exhibit]:  # fmt: skip
    """Write every exhibit of the edition into `workdir`; returns them numbered."""
    progress = progress or (lambda stage: None)
    data = snapshot.data
    exhibits = ExhibitSet(workdir, deflate=deflate)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _case_table(snapshot)
        if not redactor.public:
            _accounts(exhibits, data, redactor)
            _assent(exhibits, data, redactor)
            progress("exhibits: usage rows")
            _usage(exhibits, snapshot, redactor)
            if data["detection"]:
                progress("exhibits: findings and links")
                _findings(exhibits, data, redactor)
                _links(exhibits, data, redactor)
        else:
            _account_profile(exhibits, data)
            if data["detection"]:
                _findings_summary(exhibits, data)
        _daily(exhibits, data)
        _profile(exhibits, data)
        _batches(exhibits, data, redactor)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS rep_case_account")
    if redactor.counsel:
        exhibits.json(
            "snapshot.json",
            "Case snapshot",
            "The frozen case this report was built from, as canonical JSON; its SHA-256 is "
            "the snapshot hash on the cover.",
            snapshot.canonical,
            relationship="Source",
            nature="analysis",
        )
    else:
        exhibits.json(
            "report-data.json",
            "Report data",
            "Every figure and table of this edition as JSON, after the edition's redactions.",
            report_data,
            relationship="Source",
            nature="analysis",
        )
    return exhibits.items


def _accounts(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    header = [
        "account_id",
        "case_group",
        "org_name",
        "email",
        "created_at",
        "country",
        "billing_country",
        "payment_fingerprint",
        "signup_ip",
        "plan",
        "status",
        "reseller",
        "attribution_basis",
        "attributed_at",
        "requests",
        "input_tokens",
        "output_tokens",
        "first_request",
        "last_request",
        "assent_records",
        "signals_fired",
        "content_sha256",
        "ingest_batch",
    ]
    accounts = data["accounts"]
    rows = (
        [
            a["account_id"],
            a["group"],
            a["org_name"],
            redactor.email(a["email"]),
            a["created_at"] or "",
            a["country"],
            a["billing_country"],
            redactor.fingerprint(a["payment_fingerprint"]),
            redactor.ip(a["signup_ip"]),
            a["plan"],
            a["status"],
            a["reseller"],
            "; ".join(attribution_kinds(a)),
            a["attribution"]["at"],
            a["usage"]["requests"],
            a["usage"]["input_tokens"],
            a["usage"]["output_tokens"],
            a["usage"]["first_ts"] or "",
            a["usage"]["last_ts"] or "",
            len(a["assent"]),
            " ".join(a["signals"]),
            a["content_sha256"],
            a["batch"] or "",
        ]
        for a in accounts
    )
    exhibits.rows(
        "accounts.csv",
        "Attributed accounts",
        "One row per account attributed to the respondent: the account system's profile "
        "(business record), the basis of attribution and the usage totals of the case.",
        header,
        rows,
    )


def _assent(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    header = [
        "account_id",
        "terms",
        "version",
        "version_imported",
        "accepted_at",
        "method",
        "ip",
        "user_agent",
        "flow_id",
        "screenshot_sha256",
        "content_sha256",
        "ingest_batch",
    ]
    rows = (
        [
            a["account_id"],
            r["terms"],
            r["version"],
            r["version_imported"],
            r["accepted_at"],
            r["method"],
            redactor.ip(r["ip"]),
            r["user_agent"],
            r["flow_id"],
            r["screenshot_sha256"],
            r["content_sha256"],
            r["batch"] or "",
        ]
        for a in data["accounts"]
        for r in a["assent"]
    )
    exhibits.rows(
        "assent.csv",
        "Assent records",
        "Every record of an attributed account accepting a Terms version (business record). "
        "Accounts absent from this file have no assent record.",
        header,
        rows,
    )


def _usage(exhibits: ExhibitSet, snapshot: Snapshot, redactor: Redactor) -> None:
    columns = USAGE_COLUMNS_COUNSEL if redactor.counsel else USAGE_COLUMNS_REGULATOR
    where = _usage_filter(snapshot)
    source = sql.SQL(
        "FROM evidence_usageevent u JOIN rep_case_account c ON c.account_id = u.account_id WHERE {}"
    ).format(where)
    query = sql.SQL("SELECT {} {} ORDER BY u.id").format(
        sql.SQL(", ").join(sql.SQL(c) if isinstance(c, str) else c for c in columns), source
    )
    exhibit = exhibits.copy(
        "usage.csv",
        "Usage records",
        "Every API request of the attributed accounts in the case window, as the provider's "
        "systems logged it (business record, FRE 803(6)), one row per request, with the "
        "SHA-256 of each stored row; case_group is added by the report.",
        query,
    )
    _check_rows(exhibit, snapshot.data["usage"]["totals"]["requests"])
    if not redactor.counsel:
        for field_name, rule in (
            ("IP address", "reduced to /24 (IPv6 /48)"),
            ("end-user id", "replaced by a pseudonym (hash prefix)"),
            ("prompt text", "excerpt and full text left out"),
        ):
            redactor.log.note(field_name, rule, where="usage.csv", count=exhibit.rows)


def _findings(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    run_id = data["detection"]["run"]["id"]
    case_ids = {a["account_id"]: a["group"] for a in data["accounts"]}
    header = [
        "account_id",
        "case_group",
        "detector",
        "detector_version",
        "value",
        "threshold",
        "fired",
        "cohort",
        "cohort_size",
        "cohort_median",
        "multiple_of_median",
        "percentile",
        "window_start",
        "window_end",
        "explanation",
        "sample_request_ids",
    ]
    queryset = (
        Finding.objects.filter(run_id=run_id, account__account_id__in=list(case_ids))
        .order_by("account__account_id", "detector", "pk")
        .values_list(
            "account__account_id",
            "detector",
            "detector_version",
            "value",
            "threshold",
            "fired",
            "baseline",
            "window_start",
            "window_end",
            "explanation",
            "sample_request_ids",
        )
    )

    def rows():
        for (
            account_id,
            detector,
            version,
            value,
            threshold,
            fired,
            base,
            ws,
            we,
            text,
            ids,
        ) in queryset.iterator(chunk_size=5000):
            yield [
                account_id,
                case_ids[account_id],
                detector,
                version,
                value,
                threshold,
                fired,
                base.get("cohort", ""),
                base.get("cohort_size", ""),
                base.get("median", ""),
                base.get("multiple_of_median", ""),
                base.get("percentile", ""),
                ws.isoformat(),
                we.isoformat(),
                redactor.text(text, field_name="explanation"),
                " ".join(ids or []),
            ]

    exhibit = exhibits.rows(
        "findings.csv",
        "Detection findings",
        f"What each detector measured for each attributed account in detection run {run_id}, "
        "against the account's plan cohort (analysis, not a business record).",
        header,
        rows(),
        nature="analysis",
    )
    _check_rows(exhibit, data["detection"]["findings_count"])


def _links(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    run_id = data["detection"]["run"]["id"]
    case_ids = {a["account_id"] for a in data["accounts"]}
    header = [
        "account_a",
        "account_b",
        "both_in_case",
        "kind",
        "strength",
        "declared",
        "detector_version",
        "explanation",
        "evidence",
        "sample_request_ids",
    ]
    queryset = (
        Link.objects.filter(run_id=run_id)
        .filter(
            Q(account_a__account_id__in=list(case_ids))
            | Q(account_b__account_id__in=list(case_ids))
        )
        .order_by("kind", "account_a__account_id", "account_b__account_id")
        .values_list(
            "account_a__account_id",
            "account_b__account_id",
            "kind",
            "strength",
            "declared",
            "detector_version",
            "explanation",
            "evidence",
            "sample_request_ids",
        )
    )

    def rows():
        for a, b, kind, strength, declared, version, text, evidence, ids in queryset.iterator(
            chunk_size=5000
        ):
            yield [
                a,
                b,
                a in case_ids and b in case_ids,
                kind,
                strength,
                declared,
                version,
                redactor.text(text, field_name="link explanation"),
                redactor.text(json.dumps(evidence, sort_keys=True), field_name="link evidence"),
                " ".join(ids or []),
            ]

    exhibit = exhibits.rows(
        "links.csv",
        "Attribution links",
        f"Every link detection run {run_id} found between an attributed account and another "
        "account, with its kind, strength and evidence (analysis).",
        header,
        rows(),
        nature="analysis",
    )
    _check_rows(exhibit, data["detection"]["links_count"])


def _check_rows(exhibit: Exhibit, expected: int) -> None:
    if exhibit.rows != expected:
        raise ExhibitError(
            f"{exhibit.file_name}: {exhibit.rows:,} rows where the snapshot counted "
            f"{expected:,}; request a new report of the case as it stands"
        )


def _account_profile(exhibits: ExhibitSet, data) -> None:
    """Public edition: the attributed accounts as counts, never one by one."""
    counts: dict[tuple[str, str, str], int] = {}
    for a in data["accounts"]:
        for dimension, value in (
            ("plan", a["plan"]),
            ("status", a["status"]),
            ("country", a["country"]),
            ("attribution basis", a["attribution"]["basis"]),
            ("case group", a["group"]),
            ("assent record", "yes" if a["assent"] else "none"),
        ):
            key = (dimension, value or "(not recorded)", "")
            counts[key] = counts.get(key, 0) + 1
    exhibits.rows(
        "accounts-summary.csv",
        "Attributed accounts, counted",
        "The attributed accounts counted by plan, status, country, attribution basis, case "
        "group and assent (aggregates; no account is listed).",
        ["dimension", "value", "accounts"],
        ([d, v, n] for (d, v, _), n in sorted(counts.items())),
    )


def _findings_summary(exhibits: ExhibitSet, data) -> None:
    exhibits.rows(
        "findings-summary.csv",
        "Detection findings, summarised",
        "Per detector: accounts measured and accounts on which it fired, with the median "
        "value and cohort position (analysis; aggregates only).",
        [
            "detector",
            "detector_version",
            "accounts_measured",
            "accounts_fired",
            "threshold",
            "median_value",
            "median_cohort_median",
            "median_multiple_of_cohort_median",
            "median_percentile",
        ],
        (
            [
                f["detector"],
                f["detector_version"],
                f["measured"],
                f["fired"],
                f["threshold"],
                f["median_value"],
                f["median_cohort_median"],
                f["median_multiple"],
                f["median_percentile"],
            ]
            for f in data["detection"]["findings"]
        ),
        nature="analysis",
    )


def _daily(exhibits: ExhibitSet, data) -> None:
    groups = {g["key"]: g["label"] for g in data["groups"]}
    rows = sorted(data["usage"]["daily"], key=lambda r: (r["group"], r["day"], r["model"]))
    exhibits.rows(
        "daily.csv",
        "Daily usage by group and model",
        "Requests and tokens per day (UTC), case group and model: the FRE 1006 summary the "
        "charts and the chronology are drawn from. Each row adds up the usage records of "
        "its group, day and model.",
        [
            "row",
            "group",
            "group_label",
            "day",
            "model",
            "requests",
            "input_tokens",
            "output_tokens",
            "throttled_429",
        ],
        (
            [
                i,
                r["group"],
                groups.get(r["group"], r["group"]),
                r["day"],
                r["model"],
                r["requests"],
                r["input_tokens"],
                r["output_tokens"],
                r["throttled"],
            ]
            for i, r in enumerate(rows, start=1)
        ),
    )


def _profile(exhibits: ExhibitSet, data) -> None:
    case_hours = data["usage"]["hours"]
    base_hours = data["usage"]["baseline"]["hours"]
    case_total, base_total = sum(case_hours) or 1, sum(base_hours) or 1
    exhibits.rows(
        "daily-rhythm.csv",
        "Daily rhythm against the baseline",
        "Requests per hour of the day (UTC) of the attributed accounts and of every other "
        "customer in the same window, with each hour's share.",
        ["hour_utc", "case_requests", "case_share", "baseline_requests", "baseline_share"],
        (
            [
                h,
                case_hours[h],
                round(case_hours[h] / case_total, 6),
                base_hours[h],
                round(base_hours[h] / base_total, 6),
            ]
            for h in range(24)
        ),
    )


def _batches(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    exhibits.rows(
        "ingest-batches.csv",
        "Ingest batches",
        "Every file the case's records came from, with the SHA-256 of its bytes as "
        "received, its counts and the digest of the rows it added (provenance).",
        [
            "batch",
            "kind",
            "source",
            "format",
            "file_name",
            "raw_sha256",
            "raw_size",
            "collector",
            "started_at",
            "finished_at",
            "status",
            "accepted",
            "duplicates",
            "rejected",
            "rows_digest",
            "case_usage_rows",
        ],
        (
            [
                b["id"],
                b["kind"],
                b["source"],
                b["format"],
                redactor.text(b["file_name"], field_name="file name"),
                b["raw_sha256"],
                b["raw_size"],
                b["collector"],
                b["started_at"],
                b["finished_at"] or "",
                b["status"],
                b["accepted"],
                b["duplicates"],
                b["rejected"],
                b["rows_digest"],
                b["case_usage_rows"],
            ]
            for b in data["batches"]
        ),
    )


def exhibit_public_ok(exhibits: list[Exhibit]) -> bool:
    """The public edition carries aggregates only (a guard the service asserts)."""
    return not {e.file_name for e in exhibits} & {"usage.csv", "accounts.csv", "assent.csv"}


__all__ = ["COUNSEL", "PUBLIC", "Exhibit", "ExhibitError", "exhibits_write"]
