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

import json
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Q
from psycopg import sql

from casework.case_rules import usage_window_literal
from casework.reports.chart_data import rhythm_rows, signal_strength_write
from casework.reports.exhibit_damages import damages_exhibits_write
from casework.reports.exhibit_files import (
    Exhibit,
    ExhibitError,
    ExhibitSet,
    exhibit_compressor,
)
from casework.reports.exhibits_methods import methods_exhibits_write
from casework.reports.exhibits_records import SUMMARY, records_exhibits_write
from casework.reports.formation_exhibits import formation_exhibits_write
from casework.reports.formulas import sql_neutralised
from casework.reports.redaction import (
    COUNSEL,
    PSEUDONYM_HEX,
    PSEUDONYM_PREFIX,
    PUBLIC,
    REDUCTIONS,
    Kind,
    Redactor,
    Rule,
    hmac_pads,
)
from casework.reports.snapshot import Snapshot, attribution_kinds
from evidence.models import Finding, Link


def _case_table(snapshot: Snapshot, redactor: Redactor) -> None:
    """The case's accounts with their group and their name in this edition (`shown`: the
    id, or its keyed pseudonym), for the usage rows to join."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rep_case_account")
        cursor.execute(
            "CREATE TEMP TABLE rep_case_account "
            "(account_id text PRIMARY KEY, grp text NOT NULL, shown text NOT NULL)"
        )
        cursor.executemany(
            "INSERT INTO rep_case_account VALUES (%s, %s, %s)",
            [
                (a["account_id"], a["group"], _shown(redactor, Kind.ACCOUNT, a["account_id"]))
                for a in snapshot.data["accounts"]
            ],
        )
        cursor.execute("ANALYZE rep_case_account")
        # The key's HMAC pads go in as parameters of a quick INSERT, not as literals of the
        # COPY: a long COPY's text is what a slow-statement log keeps.
        cursor.execute("DROP TABLE IF EXISTS rep_hmac_pads")
        cursor.execute("CREATE TEMP TABLE rep_hmac_pads (inner_pad bytea, outer_pad bytea)")
        cursor.execute("INSERT INTO rep_hmac_pads VALUES (%s, %s)", hmac_pads(redactor.secret))


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


def _shown(redactor: Redactor, kind: Kind, value: str) -> str:
    """An identifier as this edition's exhibits give it, without a note per row (the
    exhibit's notes count its rows once)."""
    if redactor.rule(kind) == Rule.PSEUDONYM:
        return redactor.pseudonym(kind, value)
    return value


def _header(redactor: Redactor, kind: Kind, name: str) -> str:
    """A column's name: "account_id" in counsel's exhibits, "account_pseudonym" where the
    edition replaces the ids, so no reader mistakes one for the other."""
    if redactor.rule(kind) == Rule.PSEUDONYM:
        return name.removesuffix("_id") + "_pseudonym"
    return name


def hmac_sql(redactor: Redactor, kind: Kind, column: str) -> sql.Composed:
    """`redactor.pseudonym(kind, column)` computed by PostgreSQL (HMAC-SHA256 built from
    its sha256(), RFC 2104, with the pads `_case_table` wrote), so usage rows are
    pseudonymised without leaving the COPY."""
    return sql.SQL(
        "CASE WHEN coalesce({col}, '') = '' THEN '' ELSE {prefix} || left(encode(sha256("
        "(SELECT outer_pad FROM rep_hmac_pads) || sha256((SELECT inner_pad FROM rep_hmac_pads)"
        " || convert_to({kind} || chr(31) || {col}, 'UTF8'))), 'hex'), {length}) END"
    ).format(
        col=sql.SQL(column),
        prefix=sql.Literal(PSEUDONYM_PREFIX[kind]),
        kind=sql.Literal(kind.name),
        length=sql.Literal(PSEUDONYM_HEX),
    )


def _usage_identifier(redactor: Redactor, kind: Kind, column: str, name: str):
    """One identifier column of the usage rows as the edition's policy says: as stored, as
    its keyed pseudonym, or empty."""
    rule = redactor.rule(kind)
    if rule == Rule.KEEP:
        return sql_neutralised(column, name)
    removed = sql.SQL("''")
    expression = hmac_sql(redactor, kind, column) if rule == Rule.PSEUDONYM else removed
    return sql.SQL("{} AS {}").format(expression, sql.Identifier(_header(redactor, kind, name)))


def _usage_network(redactor: Redactor):
    rule = redactor.rule(Kind.IP)
    if rule == Rule.KEEP:
        return "host(u.source_ip) AS source_ip"
    if rule == Rule.REDUCE:
        return (
            "CASE WHEN u.source_ip IS NULL THEN '' WHEN family(u.source_ip) = 4 "
            "THEN network(set_masklen(u.source_ip, 24))::text "
            "ELSE network(set_masklen(u.source_ip, 48))::text END AS source_network"
        )
    return "'' AS source_ip"


def usage_columns_redacted(redactor: Redactor) -> tuple:
    """The usage rows of an edition that withholds something: each identifier as its policy
    says (the regulator's: keyed pseudonyms for the account, key and end-user ids, the
    network instead of the host), never the prompt's text; the row hash stays, so counsel's
    copy can be matched to it."""
    return (
        _usage_identifier(redactor, Kind.REQUEST, "u.request_id", "request_id"),
        f"{_TS} AS ts",
        sql.SQL("c.shown AS {}").format(
            sql.Identifier(_header(redactor, Kind.ACCOUNT, "account_id"))
        ),
        _usage_identifier(redactor, Kind.API_KEY, "u.api_key_id", "api_key_id"),
        sql_neutralised("u.model"),
        sql_neutralised("u.endpoint"),
        "u.input_tokens",
        "u.output_tokens",
        _usage_network(redactor),
        sql_neutralised("u.user_agent"),
        _usage_identifier(redactor, Kind.END_USER, "u.end_user", "end_user"),
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
        _case_table(snapshot, redactor)
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
        signal_strength_write(exhibits, data)
        _batches(exhibits, data, redactor)
        records_exhibits_write(exhibits, snapshot, redactor)
        methods_exhibits_write(exhibits, data)
        formation_exhibits_write(exhibits, data, redactor)
        damages_exhibits_write(exhibits, data, redactor)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS rep_case_account")
            cursor.execute("DROP TABLE IF EXISTS rep_hmac_pads")
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
        _header(redactor, Kind.ACCOUNT, "account_id"),
        "org_name",
        "email",
        "created_at",
        "country",
        "billing_country",
        "payment_fingerprint",
        "signup_ip",
        "signup_user_agent",
        "plan",
        "status",
        "reseller",
        "content_sha256",
        "ingest_batch",
    ]
    accounts = data["accounts"]
    rows = (
        [
            redactor.account(a["account_id"], where="accounts.csv"),
            redactor.identifier(Kind.ORGANISATION, a["org_name"], where="accounts.csv"),
            redactor.email(a["email"], where="accounts.csv"),
            a["created_at"] or "",
            a["country"],
            a["billing_country"],
            redactor.fingerprint(a["payment_fingerprint"], where="accounts.csv"),
            redactor.ip(a["signup_ip"], where="accounts.csv"),
            a["signup_user_agent"],
            a["plan"],
            a["status"],
            a["reseller"],
            a["content_sha256"],
            a["batch"] or "",
        ]
        for a in accounts
    )
    exhibits.rows(
        "accounts.csv",
        "Attributed accounts",
        "One row per account attributed to the respondent: the account system's profile in "
        "its own fields, with the SHA-256 of the stored row and its ingest batch (business "
        "record; attribution.csv and account-totals.csv hold what the report derived).",
        header,
        rows,
    )


def _assent(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    header = [
        _header(redactor, Kind.ACCOUNT, "account_id"),
        "terms",
        "version",
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
            redactor.account(a["account_id"], where="assent.csv"),
            r["terms"],
            r["version"],
            r["accepted_at"],
            r["method"],
            redactor.ip(r["ip"], where="assent.csv"),
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
    columns = USAGE_COLUMNS_COUNSEL if redactor.counsel else usage_columns_redacted(redactor)
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
        "SHA-256 of each stored row, and nothing the report derived (attribution.csv gives "
        "each account's case group)."
        + ("" if redactor.counsel else " Identifiers are given as this edition's policy says."),
        query,
    )
    _check_rows(exhibit, snapshot.data["usage"]["totals"]["requests"])
    if not redactor.counsel:
        for kind in (Kind.REQUEST, Kind.ACCOUNT, Kind.API_KEY, Kind.IP, Kind.END_USER):
            rule = redactor.rule(kind)
            if rule != Rule.KEEP:
                said = REDUCTIONS[kind] if rule == Rule.REDUCE else rule.value
                redactor.log.note(kind.value, said, where="usage.csv", count=exhibit.rows)
        redactor.log.note(
            "prompt text", "excerpt and full text left out", where="usage.csv", count=exhibit.rows
        )


def _findings(exhibits: ExhibitSet, data, redactor: Redactor) -> None:
    run_id = data["detection"]["run"]["id"]
    case_ids = {a["account_id"]: a["group"] for a in data["accounts"]}
    header = [
        _header(redactor, Kind.ACCOUNT, "account_id"),
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
                redactor.account(account_id, where="findings.csv"),
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
                " ".join(
                    redactor.identifier(Kind.REQUEST, i, where="findings.csv") for i in ids or []
                ),
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
        _header(redactor, Kind.ACCOUNT, "account_a"),
        _header(redactor, Kind.ACCOUNT, "account_b"),
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
            # The explanation names what the evidence holds (the other account, the
            # end users routed): each is learnt before the text is read.
            shown_a = redactor.account(a, where="links.csv")
            shown_b = redactor.account(b, where="links.csv")
            redactor.learn_kind(Kind.END_USER, _listed(evidence, "routed_end_users"))
            redactor.learn_kind(Kind.API_KEY, _listed(evidence, "api_key_id"))
            evidence = redactor.structure(evidence, field_name="link evidence")
            yield [
                shown_a,
                shown_b,
                a in case_ids and b in case_ids,
                kind,
                strength,
                declared,
                version,
                redactor.text(text, field_name="link explanation"),
                json.dumps(evidence, sort_keys=True, ensure_ascii=False),
                " ".join(
                    redactor.identifier(Kind.REQUEST, i, where="links.csv") for i in ids or []
                ),
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


def _listed(evidence, key: str) -> list[str]:
    value = evidence.get(key) if isinstance(evidence, dict) else None
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


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
            *(("attribution basis", kind) for kind in attribution_kinds(a)),
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
        nature=SUMMARY,
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
        nature=SUMMARY,
    )


def _profile(exhibits: ExhibitSet, data) -> None:
    exhibits.rows(
        "daily-rhythm.csv",
        "Daily rhythm against the baseline",
        "Requests per hour of the day (UTC) of the attributed accounts and of every other "
        "customer in the same window, with each hour's share.",
        ["hour_utc", "case_requests", "case_share", "baseline_requests", "baseline_share"],
        rhythm_rows(data),
        nature=SUMMARY,
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
                redactor.staff_member(b["collector"], where="ingest-batches.csv"),
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
        nature="custody record",
    )


def exhibit_public_ok(exhibits: list[Exhibit]) -> bool:
    """The public edition carries aggregates only (a guard the service asserts)."""
    per_account = {
        "usage.csv",
        "accounts.csv",
        "assent.csv",
        "attribution.csv",
        "account-totals.csv",
    }
    names = {e.file_name for e in exhibits}
    return not names & per_account and not any(n.startswith("native-") for n in names)


__all__ = [
    "COUNSEL",
    "PUBLIC",
    "Exhibit",
    "ExhibitError",
    "ExhibitSet",
    "exhibit_compressor",
    "exhibits_write",
]
