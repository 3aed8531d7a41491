"""The frozen case: one canonical JSON document of everything a report shows.

A report says exactly what was hashed. The snapshot is taken in one REPEATABLE READ
transaction (every aggregate sees the same rows), its SHA-256 is `ReportJob.snapshot_sha256`,
and rendering reads nothing else from the database. The million-row parts of the record
(usage, links, findings) appear here as aggregates computed in SQL, never as rows in
Python, together with the bounds (`scope`) that let the exhibits stream exactly the rows
the aggregates were computed over.

Nothing here depends on the clock: the same case and record give the same bytes, so
asking twice for a report of an unchanged case finds the job that already exists.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from casework.models import Allegation, Case, CaseAccount
from evidence.custody.canonical import (
    GENESIS_HASH,
    canonical_json,
    instant,
    instant_sql,
    sha256_hex,
    utc_iso,
)
from evidence.models import (
    AssentRecord,
    Clause,
    IngestBatch,
    LedgerEntry,
    TermsVersion,
    VerificationRun,
)

SCHEMA = "pacta.report.snapshot/1"
# Summary tables in the PDF show this many detailed rows at most; the rest is in exhibits.
TOP_FINDINGS_PER_DETECTOR = 2
TOP_LINKS = 12
CASE_CUSTODY_ENTRIES = 40
# Ledger actions that read or certify the record without changing what a report shows.
READ_ACTIONS = ("viewed", "exported", "verified", "timestamped")

DETECTION_TABLES = {
    "evidence_detectionrun",
    "evidence_finding",
    "evidence_link",
    "evidence_cluster",
    "evidence_clustermember",
    "evidence_modelrelease",
    "evidence_planlimit",
}


@dataclass(frozen=True)
class Snapshot:
    data: dict[str, Any]
    canonical: bytes
    sha256: str


def snapshot_from_bytes(canonical: bytes) -> Snapshot:
    import json

    return Snapshot(json.loads(canonical), canonical, sha256_hex(canonical))


def case_snapshot(*, case: Case) -> Snapshot:
    """Freeze the case and the record it rests on; see the module docstring."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            if outermost:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SET LOCAL work_mem = '128MB'")
            # The usage pass groups by minute among its grouping sets. The planner cannot
            # tell how many minutes a case spans and guesses one group per row, so within
            # work_mem alone it sorts the rows for the sets it dares not hash (about 1.5 s
            # of a 4 s pass over 900,000 rows). A larger allowance lets it hash every set;
            # the tables actually used are small (about 40 MB for 70,000 minutes), and a
            # case whose tables outgrow the allowance spills to disk rather than failing.
            cursor.execute("SET LOCAL hash_mem_multiplier = 8")
        data = _collect(Case.objects.get(pk=case.pk))
    canonical = canonical_json(data).encode("utf-8")
    return Snapshot(data=data, canonical=canonical, sha256=sha256_hex(canonical))


def detection_available() -> bool:
    """Detection is built beside this module; a record without its tables has no findings."""
    return set(connection.introspection.table_names()) >= DETECTION_TABLES


# --- helpers -------------------------------------------------------------------------------


def _instant_iso(microseconds: int | None) -> str | None:
    """An instant read with `instant_sql`, as the snapshot writes timestamps."""
    return _iso(instant(microseconds))


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    return value.isoformat()


def _num(value) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return value


def _fetch_pairs(cursor, sql: str, params=None) -> list[tuple]:
    cursor.execute(sql, params or {})
    return cursor.fetchall()


def _fetch(cursor, sql: str, params=None) -> list[dict[str, Any]]:
    cursor.execute(sql, params or {})
    columns = [c.name for c in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# --- the collection ------------------------------------------------------------------------


def _collect(case: Case) -> dict[str, Any]:
    links = list(
        CaseAccount.objects.filter(case=case)
        .select_related("account", "attributed_by")
        .order_by("account__account_id")
    )
    detection = _detection_run() if detection_available() else None
    groups, group_of = _groups(links, detection)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rep_case_account")
        cursor.execute(
            "CREATE TEMP TABLE rep_case_account (account_id text PRIMARY KEY, grp text NOT NULL)"
        )
        if links:
            cursor.executemany(
                "INSERT INTO rep_case_account VALUES (%s, %s)",
                [(link.account.account_id, group_of[link.account.account_id]) for link in links],
            )
        cursor.execute("ANALYZE rep_case_account")
        window = (case.window_start, case.window_end)
        usage = _usage(cursor, window)
        baseline = _baseline(cursor, window)
        detection_part = _detection(cursor, detection, links) if detection else None
        cursor.execute("DROP TABLE rep_case_account")

    accounts = _accounts(links, group_of, usage.pop("per_account"), detection_part)
    allegations = _allegations(case)
    terms = _terms(allegations, accounts)
    batches = _batches(usage["batches"], links, accounts, terms)
    limits = _limits(accounts, usage.pop("minutes"))
    data = {
        "schema": SCHEMA,
        "case": _case(case),
        "scope": {
            "window_start": _iso(case.window_start),
            "window_end": _iso(case.window_end),
            "max_usage_id": usage["totals"]["max_id"] or 0,
        },
        "groups": groups,
        "accounts": accounts,
        "usage": {**usage, "baseline": baseline},
        "limits": limits,
        "prices": _prices(),
        "terms": terms,
        "allegations": allegations,
        "detection": detection_part,
        "batches": batches,
        "verification": _verification(),
        "custody": _custody(case, allegations),
    }
    data["ledger"] = _ledger_position(case, data)
    return data


def _case(case: Case) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "title": case.title,
        "respondent": case.respondent,
        "status": case.status,
        "privileged": case.privileged,
        "legal_hold": case.legal_hold,
        "legal_hold_since": _iso(case.legal_hold_since),
        "window_start": _iso(case.window_start),
        "window_end": _iso(case.window_end),
        "opened_at": _iso(case.opened_at),
        "opened_by": case.opened_by.get_username(),
    }


def _detection_run():
    from evidence.models import DetectionRun

    return (
        DetectionRun.objects.filter(status=DetectionRun.Status.FINISHED)
        .order_by("-finished_at", "-pk")
        .first()
    )


def _groups(links: list[CaseAccount], run) -> tuple[list[dict], dict[str, str]]:
    """The groups the charts and chronology are drawn by: the detected clusters the case's
    accounts fall in (strongest first), and the rest; one group when nothing was detected."""
    account_ids = [link.account.account_id for link in links]
    group_of: dict[str, str] = {}
    groups: list[dict[str, Any]] = []
    if run is not None:
        from evidence.models import ClusterMember

        rows = (
            ClusterMember.objects.filter(
                cluster__run=run, account_id__in=[link.account_id for link in links]
            )
            .order_by("-cluster__score", "cluster_id", "account__account_id")
            .values_list(
                "cluster_id",
                "cluster__score",
                "cluster__band",
                "cluster__size",
                "account__account_id",
            )
        )
        labels: dict[int, str] = {}
        for cluster_id, score, band, size, account_id in rows:
            if cluster_id not in labels:
                labels[cluster_id] = f"C{len(labels) + 1}"
                groups.append(
                    {
                        "key": labels[cluster_id],
                        "label": f"Cluster {labels[cluster_id]} ({band})",
                        "cluster_id": cluster_id,
                        "band": band,
                        "score": score,
                        "cluster_size": size,
                    }
                )
            group_of.setdefault(account_id, labels[cluster_id])
    rest = [a for a in account_ids if a not in group_of]
    if rest:
        key = "U" if groups else "A"
        label = "Not in a detected cluster" if groups else "Attributed accounts"
        groups.append({"key": key, "label": label, "cluster_id": None, "band": None})
        for account_id in rest:
            group_of[account_id] = key
    counts = defaultdict(int)
    for account_id in account_ids:
        counts[group_of[account_id]] += 1
    for group in groups:
        group["accounts"] = counts[group["key"]]
    return groups, group_of


# Grouping sets of the usage pass. GROUPING() sets a bit for each column a set leaves out,
# first argument most significant; these are the masks of the sets below.
_USAGE_COLUMNS = ("account_id", "model", "day", "grp", "batch_id", "hour", "minute")
_SETS = {
    "account_model": ("account_id", "model"),
    "day_group_model": ("day", "grp", "model"),
    "batch": ("batch_id",),
    "hour": ("hour",),
    "minute": ("minute",),
    "total": (),
}


def _mask(columns: tuple[str, ...]) -> int:
    width = len(_USAGE_COLUMNS)
    return sum(1 << (width - 1 - i) for i, c in enumerate(_USAGE_COLUMNS) if c not in columns)


def _window_sql(window, alias: str = "u") -> tuple[str, dict[str, Any]]:
    parts, params = ["TRUE"], {}
    if window[0] is not None:
        parts.append(f"{alias}.ts >= %(window_start)s")
        params["window_start"] = window[0]
    if window[1] is not None:
        parts.append(f"{alias}.ts <= %(window_end)s")
        params["window_end"] = window[1]
    return " AND ".join(parts), params


def _usage(cursor, window) -> dict[str, Any]:
    """One scan of the case accounts' usage, aggregated several ways at once."""
    where, params = _window_sql(window)
    sets = ", ".join(f"({', '.join(columns)})" for columns in _SETS.values())
    # Instants come back as integers (see `instant_sql`): a case's busy minutes alone are
    # tens of thousands of rows, and only a few of their timestamps are ever shown.
    selected = ", ".join(f"{instant_sql(c)} AS {c}" if c == "minute" else c for c in _USAGE_COLUMNS)
    rows = _fetch(
        cursor,
        f"""
        WITH r AS (
          SELECT u.id, u.account_id, u.model, u.batch_id, c.grp, u.ts,
                 u.input_tokens, u.output_tokens, u.status, u.end_user,
                 (u.ts AT TIME ZONE 'UTC')::date AS day,
                 extract(hour FROM u.ts AT TIME ZONE 'UTC')::int AS hour,
                 date_trunc('minute', u.ts) AS minute
          FROM evidence_usageevent u JOIN rep_case_account c ON c.account_id = u.account_id
          WHERE {where}
        )
        SELECT GROUPING({", ".join(_USAGE_COLUMNS)}) AS g, {selected},
               count(*) AS requests,
               coalesce(sum(input_tokens), 0) AS input_tokens,
               coalesce(sum(output_tokens), 0) AS output_tokens,
               count(*) FILTER (WHERE status = 429) AS throttled,
               count(*) FILTER (WHERE end_user <> '') AS with_end_user,
               {instant_sql("min(ts)")} AS first_ts, {instant_sql("max(ts)")} AS last_ts,
               max(id) AS max_id
        FROM r
        GROUP BY GROUPING SETS ({sets})
        """,
        params,
    )
    by_mask = defaultdict(list)
    masks = {name: _mask(columns) for name, columns in _SETS.items()}
    for row in rows:
        by_mask[row.pop("g")].append(row)

    def figures(row: dict[str, Any]) -> dict[str, int]:
        return {
            "requests": row["requests"],
            "input_tokens": int(row["input_tokens"]),
            "output_tokens": int(row["output_tokens"]),
            "throttled": row["throttled"],
        }

    total_rows = by_mask[masks["total"]]
    total = total_rows[0] if total_rows else None
    totals = {
        **(
            figures(total)
            if total
            else dict.fromkeys(("requests", "input_tokens", "output_tokens", "throttled"), 0)
        ),
        "with_end_user": total["with_end_user"] if total else 0,
        "first_ts": _instant_iso(total["first_ts"]) if total else None,
        "last_ts": _instant_iso(total["last_ts"]) if total else None,
        "max_id": total["max_id"] if total else None,
    }
    per_account: dict[str, dict[str, Any]] = {}
    for row in by_mask[masks["account_model"]]:
        entry = per_account.setdefault(
            row["account_id"],
            {
                "requests": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "throttled": 0,
                "first_ts": row["first_ts"],
                "last_ts": row["last_ts"],
                "by_model": {},
            },
        )
        for key, value in figures(row).items():
            entry[key] += value
        entry["first_ts"] = min(entry["first_ts"], row["first_ts"])
        entry["last_ts"] = max(entry["last_ts"], row["last_ts"])
        entry["by_model"][row["model"]] = [
            row["requests"],
            int(row["input_tokens"]),
            int(row["output_tokens"]),
        ]
    for entry in per_account.values():
        entry["first_ts"], entry["last_ts"] = (
            _instant_iso(entry["first_ts"]),
            _instant_iso(entry["last_ts"]),
        )
    daily = sorted(
        (
            {
                "day": row["day"].isoformat(),
                "group": row["grp"],
                "model": row["model"],
                **figures(row),
            }
            for row in by_mask[masks["day_group_model"]]
        ),
        key=lambda r: (r["day"], r["group"], r["model"]),
    )
    by_model = defaultdict(
        lambda: {"requests": 0, "input_tokens": 0, "output_tokens": 0, "throttled": 0}
    )
    for row in daily:
        for key in ("requests", "input_tokens", "output_tokens", "throttled"):
            by_model[row["model"]][key] += row[key]
    hours = [0] * 24
    for row in by_mask[masks["hour"]]:
        hours[row["hour"]] = row["requests"]
    batches = {row["batch_id"]: row["requests"] for row in by_mask[masks["batch"]]}
    minutes = [
        (row["requests"], int(row["input_tokens"]) + int(row["output_tokens"]), row["minute"])
        for row in by_mask[masks["minute"]]
    ]
    return {
        "totals": totals,
        "by_model": [{"model": m, **v} for m, v in sorted(by_model.items())],
        "daily": daily,
        "hours": hours,
        "batches": batches,
        "per_account": per_account,
        "minutes": minutes,
    }


def _baseline(cursor, window) -> dict[str, Any]:
    """The daily rhythm of every other customer in the same window: what ordinary looks like."""
    where, params = _window_sql(window)
    rows = _fetch(
        cursor,
        f"""
        SELECT extract(hour FROM u.ts AT TIME ZONE 'UTC')::int AS hour, count(*) AS requests
        FROM evidence_usageevent u
        WHERE {where}
          AND NOT EXISTS (SELECT 1 FROM rep_case_account c WHERE c.account_id = u.account_id)
        GROUP BY 1
        """,
        params,
    )
    hours = [0] * 24
    for row in rows:
        hours[row["hour"]] = row["requests"]
    return {"hours": hours, "requests": sum(hours)}


def _limits(accounts: list[dict], minutes: list[tuple]) -> dict[str, Any]:
    """Combined traffic per minute against the most generous single-account limit among
    the case's plans: more than one account may carry (Terms 3.4: limits apply to the
    customer as a whole, not per account)."""
    plans = sorted({a["plan"] for a in accounts if a["plan"]})
    limits = {}
    if detection_available():
        from evidence.models import PlanLimit

        limits = {
            p.plan: (p.requests_per_minute, p.tokens_per_minute)
            for p in PlanLimit.objects.filter(plan__in=plans)
        }
    result: dict[str, Any] = {
        "plans": plans,
        "plan_limits": [
            {"plan": plan, "requests_per_minute": rpm, "tokens_per_minute": tpm}
            for plan, (rpm, tpm) in sorted(limits.items())
        ],
        "minutes_active": len(minutes),
        "peak_requests_per_minute": max((m[0] for m in minutes), default=0),
        "peak_tokens_per_minute": max((m[1] for m in minutes), default=0),
        "peak_minute": (
            _instant_iso(max(minutes, key=lambda m: (m[1], m[2]))[2]) if minutes else None
        ),
    }
    if limits:
        rpm = max(v[0] for v in limits.values())
        tpm = max(v[1] for v in limits.values())
        result.update(
            {
                "single_account_rpm": rpm,
                "single_account_tpm": tpm,
                "minutes_over_rpm": sum(1 for m in minutes if m[0] > rpm),
                "minutes_over_tpm": sum(1 for m in minutes if m[1] > tpm),
                "tokens_over_tpm": sum(max(0, m[1] - tpm) for m in minutes),
            }
        )
    return result


def _prices() -> list[dict[str, Any]]:
    if not detection_available():
        return []
    from evidence.models import ModelRelease

    return [
        {
            "model": m.model,
            "released_at": _iso(m.released_at),
            "input_per_mtok": _num(m.list_price_per_mtok_input),
            "output_per_mtok": _num(m.list_price_per_mtok_output),
            "source_file": m.source_file,
            "source_sha256": m.source_sha256,
        }
        for m in ModelRelease.objects.order_by("model")
    ]


def _accounts(links, group_of, usage, detection_part) -> list[dict[str, Any]]:
    assent = defaultdict(list)
    for record in (
        AssentRecord.objects.filter(account_id__in=[link.account_id for link in links])
        .select_related("account")
        .order_by("account__account_id", "accepted_at", "pk")
    ):
        assent[record.account.account_id].append(
            {
                "terms": record.terms_slug,
                "version": record.version_label,
                "version_imported": record.terms_version_id is not None,
                "accepted_at": _iso(record.accepted_at),
                "method": record.method,
                "ip": record.ip,
                "user_agent": record.user_agent,
                "flow_id": record.flow_id,
                "screenshot_sha256": record.screenshot_sha256,
                "content_sha256": record.content_sha256,
                "batch": record.batch_id,
            }
        )
    fired = (detection_part or {}).pop("fired_by_account", {})
    empty = {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "throttled": 0,
        "first_ts": None,
        "last_ts": None,
        "by_model": {},
    }
    accounts = []
    for link in links:
        account = link.account
        accounts.append(
            {
                "account_id": account.account_id,
                "org_name": account.org_name,
                "email": account.email,
                "created_at": _iso(account.created_at),
                "country": account.country,
                "billing_country": account.billing_country,
                "payment_fingerprint": account.payment_fingerprint,
                "signup_ip": account.signup_ip,
                "signup_user_agent": account.signup_user_agent,
                "plan": account.plan,
                "status": account.status,
                "reseller": account.reseller,
                "seen_only_in_usage": account.seen_only_in_usage,
                "content_sha256": account.content_sha256,
                "batch": account.batch_id,
                "group": group_of[account.account_id],
                "attribution": {
                    "basis": link.basis,
                    "detail": link.basis_detail,
                    "by": link.attributed_by.get_username(),
                    "at": _iso(link.attributed_at),
                },
                "usage": usage.get(account.account_id, empty),
                "assent": assent.get(account.account_id, []),
                "signals": fired.get(account.account_id, []),
            }
        )
    return accounts


def _clause(clause: Clause) -> dict[str, Any]:
    version = clause.version
    return {
        "id": clause.pk,
        "document": version.document.slug,
        "document_title": version.document.title,
        "version": version.label,
        "version_id": version.pk,
        "effective_date": version.effective_date.isoformat(),
        "version_sha256": version.text_sha256,
        "path": clause.path,
        "heading": clause.heading,
        "text": clause.text,
        "text_sha256": clause.text_sha256,
        "category": clause.category,
        "first_appearance": clause.same_as_id or clause.pk,
    }


def _allegations(case: Case) -> list[dict[str, Any]]:
    allegations = (
        Allegation.objects.filter(case=case)
        .select_related("clause__version__document", "created_by")
        .prefetch_related("supporting_evidence")
        .order_by("created_at", "pk")
    )
    result = []
    for allegation in allegations:
        clause = allegation.clause
        # The same clause (same path) in every version of the document: which text was in
        # force at each moment of the conduct.
        versions = []
        for other in (
            Clause.objects.filter(version__document=clause.version.document, path=clause.path)
            .select_related("version")
            .order_by("version__effective_date", "version_id")
        ):
            versions.append(
                {
                    "version": other.version.label,
                    "effective_date": other.version.effective_date.isoformat(),
                    "clause_id": other.pk,
                    "text_sha256": other.text_sha256,
                    "same_text": other.text_sha256 == clause.text_sha256,
                }
            )
        all_versions = [
            {"version": v.label, "effective_date": v.effective_date.isoformat()}
            for v in TermsVersion.objects.filter(document=clause.version.document).order_by(
                "effective_date", "pk"
            )
        ]
        result.append(
            {
                "id": allegation.pk,
                "clause": _clause(clause),
                "theory": allegation.theory,
                "created_at": _iso(allegation.created_at),
                "created_by": allegation.created_by.get_username(),
                "clause_versions": versions,
                "document_versions": all_versions,
                "supporting_evidence": [
                    {
                        "id": item.pk,
                        "kind": item.kind,
                        "file_name": item.file_name,
                        "sha256": item.sha256,
                        "size": item.size,
                        "collected_at": _iso(item.collected_at),
                    }
                    for item in sorted(allegation.supporting_evidence.all(), key=lambda i: i.pk)
                ],
            }
        )
    return result


def _terms(allegations: list[dict], accounts: list[dict]) -> list[dict[str, Any]]:
    slugs = {a["clause"]["document"] for a in allegations}
    slugs |= {r["terms"] for account in accounts for r in account["assent"]}
    return [
        {
            "document": v.document.slug,
            "title": v.document.title,
            "version": v.label,
            "version_id": v.pk,
            "effective_date": v.effective_date.isoformat(),
            "text_sha256": v.text_sha256,
            "source_url": v.source_url,
            "clauses": v.clauses.count(),
        }
        for v in TermsVersion.objects.filter(document__slug__in=slugs)
        .select_related("document")
        .order_by("document__slug", "effective_date", "pk")
    ]


def _batches(usage_batches: dict, links, accounts, terms) -> list[dict[str, Any]]:
    ids = set(usage_batches)
    ids |= {a["batch"] for a in accounts if a["batch"]}
    ids |= {r["batch"] for a in accounts for r in a["assent"] if r["batch"]}
    terms_hashes = {t["text_sha256"] for t in terms}
    batches = IngestBatch.objects.filter(pk__in=ids) | IngestBatch.objects.filter(
        kind=IngestBatch.Kind.TERMS, raw_sha256__in=terms_hashes
    )
    return [
        {
            "id": b.pk,
            "kind": b.kind,
            "source": b.source,
            "format": b.format,
            "file_name": b.file_name,
            "raw_sha256": b.raw_sha256,
            "raw_size": b.raw_size,
            "collector": b.collector_label,
            "started_at": _iso(b.started_at),
            "finished_at": _iso(b.finished_at),
            "status": b.status,
            "accepted": b.accepted,
            "duplicates": b.duplicates,
            "rejected": b.rejected,
            "rows_digest": b.rows_digest,
            "case_usage_rows": usage_batches.get(b.pk, 0),
        }
        for b in batches.distinct().order_by("started_at", "pk")
    ]


def _detection(cursor, run, links) -> dict[str, Any]:
    """What the latest finished detection run said about the case's accounts."""
    from evidence.models import Cluster, Finding

    try:
        from evidence.detectors import REGISTRY, detector_versions

        detector_versions()  # imports every detector module, so each is registered
    except ImportError:  # detectors still being built: report what the run stored
        REGISTRY = {}
    params = {"run": run.pk}
    summary = _fetch(
        cursor,
        """
        SELECT f.detector, f.detector_version,
               count(*) AS measured, count(*) FILTER (WHERE f.fired) AS fired,
               min(f.threshold) AS threshold,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY f.value) AS median_value,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY f.value)
                 FILTER (WHERE f.fired) AS median_fired_value,
               percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY (f.baseline->>'median')::float) AS median_cohort_median,
               percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY (f.baseline->>'percentile')::float) AS median_percentile,
               percentile_cont(0.5) WITHIN GROUP (
                 ORDER BY (f.baseline->>'multiple_of_median')::float) AS median_multiple
        FROM evidence_finding f
        JOIN evidence_account a ON a.id = f.account_id
        JOIN rep_case_account c ON c.account_id = a.account_id
        WHERE f.run_id = %(run)s
        GROUP BY 1, 2 ORDER BY 1, 2
        """,
        params,
    )
    for row in summary:
        for key in (
            "threshold",
            "median_value",
            "median_fired_value",
            "median_cohort_median",
            "median_percentile",
            "median_multiple",
        ):
            if row[key] is not None:
                row[key] = round(float(row[key]), 6)
    top = _fetch(
        cursor,
        """
        SELECT detector, account_id, value, baseline, explanation, sample_request_ids FROM (
          SELECT f.detector, a.account_id, f.value, f.baseline, f.explanation,
                 f.sample_request_ids,
                 row_number() OVER (PARTITION BY f.detector
                                    ORDER BY f.value DESC, a.account_id) AS rank
          FROM evidence_finding f
          JOIN evidence_account a ON a.id = f.account_id
          JOIN rep_case_account c ON c.account_id = a.account_id
          WHERE f.run_id = %(run)s AND f.fired
        ) x WHERE rank <= %(top)s ORDER BY detector, rank
        """,
        {**params, "top": TOP_FINDINGS_PER_DETECTOR},
    )
    fired_rows = _fetch(
        cursor,
        """
        SELECT a.account_id, array_agg(f.detector ORDER BY f.detector) AS detectors
        FROM evidence_finding f
        JOIN evidence_account a ON a.id = f.account_id
        JOIN rep_case_account c ON c.account_id = a.account_id
        WHERE f.run_id = %(run)s AND f.fired GROUP BY 1
        """,
        params,
    )
    link_sql = """
        FROM evidence_link l
        JOIN evidence_account a ON a.id = l.account_a_id
        JOIN evidence_account b ON b.id = l.account_b_id
        LEFT JOIN rep_case_account ca ON ca.account_id = a.account_id
        LEFT JOIN rep_case_account cb ON cb.account_id = b.account_id
        WHERE l.run_id = %(run)s AND (ca.account_id IS NOT NULL OR cb.account_id IS NOT NULL)
    """
    link_summary = _fetch(
        cursor,
        f"""
        SELECT l.kind, l.strength, l.declared,
               (ca.account_id IS NOT NULL AND cb.account_id IS NOT NULL) AS within_case,
               count(*) AS links
        {link_sql}
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        """,
        params,
    )
    top_links = _fetch(
        cursor,
        f"""
        SELECT l.kind, l.strength, l.declared, a.account_id AS account_a,
               b.account_id AS account_b, l.explanation, l.sample_request_ids,
               l.detector_version
        {link_sql} AND ca.account_id IS NOT NULL AND cb.account_id IS NOT NULL
        ORDER BY CASE l.strength WHEN 'hard' THEN 0 WHEN 'strong' THEN 1 ELSE 2 END,
                 l.kind, a.account_id, b.account_id
        LIMIT %(top)s
        """,
        {**params, "top": TOP_LINKS},
    )
    counts = _fetch(
        cursor,
        f"""
        SELECT (SELECT count(*) FROM evidence_finding f
                JOIN evidence_account a ON a.id = f.account_id
                JOIN rep_case_account c ON c.account_id = a.account_id
                WHERE f.run_id = %(run)s) AS findings,
               (SELECT count(*) {link_sql}) AS links
        """,
        params,
    )[0]
    in_case = dict(
        _fetch_pairs(
            cursor,
            """
            SELECT cm.cluster_id, count(*) FROM evidence_clustermember cm
            JOIN evidence_cluster cl ON cl.id = cm.cluster_id
            JOIN evidence_account a ON a.id = cm.account_id
            JOIN rep_case_account c ON c.account_id = a.account_id
            WHERE cl.run_id = %(run)s GROUP BY 1
            """,
            params,
        )
    )
    cluster_findings = defaultdict(list)
    for f in Finding.objects.filter(cluster_id__in=list(in_case)).order_by("detector", "pk"):
        cluster_findings[f.cluster_id].append(
            {
                "detector": f.detector,
                "value": f.value,
                "fired": f.fired,
                "explanation": f.explanation,
            }
        )
    clusters = [
        {
            "id": cluster.pk,
            "score": cluster.score,
            "band": cluster.band,
            "size": cluster.size,
            "members_in_case": in_case[cluster.pk],
            "explanation": cluster.explanation,
            "findings": cluster_findings[cluster.pk],
        }
        for cluster in Cluster.objects.filter(pk__in=list(in_case)).order_by("-score", "pk")
    ]
    used = sorted({row["detector"] for row in summary} | {row["kind"] for row in link_summary})
    detectors = []
    for code in used:
        detector = REGISTRY.get(code)
        described = detector.describe() if detector is not None else {"code": code}
        described["run_version"] = (run.detector_versions or {}).get(code)
        detectors.append(described)
    return {
        "run": {
            "id": run.pk,
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
            "window_start": _iso(run.window_start),
            "window_end": _iso(run.window_end),
            "digest": run.digest,
            "detector_versions": run.detector_versions,
            "accounts_active": (run.counts or {}).get("accounts_active"),
        },
        "findings": summary,
        "top_findings": [{**row, "value": round(float(row["value"]), 6)} for row in top],
        "fired_by_account": {row["account_id"]: row["detectors"] for row in fired_rows},
        "links": link_summary,
        "top_links": top_links,
        "findings_count": counts["findings"],
        "links_count": counts["links"],
        "clusters": clusters,
        "detectors": detectors,
    }


def _verification() -> dict[str, Any] | None:
    run = VerificationRun.objects.order_by("-started_at", "-pk").first()
    if run is None:
        return None
    return {
        "id": run.pk,
        "ok": run.ok,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "checked": run.checked,
        "failures_total": run.failures_total,
        "failures": run.failures[:10],
        "ledger_head_seq": run.ledger_head_seq,
        "ledger_head_hash": run.ledger_head_hash,
    }


def _custody(case: Case, allegations: list[dict]) -> dict[str, Any]:
    from evidence.custody.preservation import custody_history

    entries = (
        LedgerEntry.objects.filter(object_type="case", object_id=case.reference)
        .exclude(action__in=READ_ACTIONS)
        .order_by("seq")
    )
    linked = LedgerEntry.objects.filter(
        object_type="account", action="linked", details__case=case.reference
    )
    items = {}
    for allegation in allegations:
        for item in allegation["supporting_evidence"]:
            items[item["id"]] = item
    files = []
    for item_id, item in sorted(items.items()):
        history = custody_history(object_type="evidence_item", object_id=item_id)
        files.append(
            {
                "id": item_id,
                "file_name": item["file_name"],
                "sha256": item["sha256"],
                "history": [
                    {
                        "at": _iso(e["at"]),
                        "action": e["action"],
                        "actor": e["actor"],
                        "ledger_seq": e["ledger_seq"],
                    }
                    for e in history
                    if e["action"] not in ("viewed",)
                ][:CASE_CUSTODY_ENTRIES],
            }
        )
    return {
        "case": [
            {
                "seq": e.seq,
                "at": _iso(e.recorded_at),
                "action": e.action,
                "actor": e.actor,
                "entry_hash": e.entry_hash,
            }
            for e in entries[:CASE_CUSTODY_ENTRIES]
        ],
        "accounts_linked": linked.count(),
        "accounts_linked_first_seq": linked.order_by("seq").values_list("seq", flat=True).first(),
        "accounts_linked_last_seq": linked.order_by("-seq").values_list("seq", flat=True).first(),
        "files": files,
    }


def _ledger_position(case: Case, data: dict[str, Any]) -> dict[str, Any]:
    """The latest ledger entry recording an act on what this report rests on.

    Each entry's hash covers every entry before it, so certifying this one certifies the
    chain up to it. It is case-scoped (not the global head) on purpose: reading the case,
    exporting a file or building a report appends entries too, and those must not turn an
    unchanged case into a new snapshot.
    """
    from django.db.models import Q

    batch_ids = [str(b["id"]) for b in data["batches"]]
    versions = [str(t["version_id"]) for t in data["terms"]]
    clauses = [str(a["clause"]["id"]) for a in data["allegations"]]
    files = [str(f["id"]) for f in data["custody"]["files"]]
    relevant = (
        Q(object_type="case", object_id=case.reference)
        | Q(object_type="account", action="linked", details__case=case.reference)
        | Q(object_type="ingest_batch", object_id__in=batch_ids)
        | Q(object_type="terms_version", object_id__in=versions)
        | Q(object_type="clause", object_id__in=clauses)
        | Q(object_type="evidence_item", object_id__in=files)
        | Q(object_type__in=("modelrelease", "planlimit"))
    )
    if data["detection"]:
        relevant |= Q(object_type="detection_run", object_id=str(data["detection"]["run"]["id"]))
    entry = (
        LedgerEntry.objects.filter(relevant)
        .exclude(action__in=READ_ACTIONS)
        .order_by("-seq")
        .values_list("seq", "entry_hash")
        .first()
    )
    seq, entry_hash = entry if entry else (0, GENESIS_HASH)
    return {"seq": seq, "hash": entry_hash}
