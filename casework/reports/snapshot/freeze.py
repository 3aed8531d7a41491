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

import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from casework.case_rules import output_use_collect
from casework.models import Case
from casework.reports.snapshot.countermeasures import countermeasures_collect
from casework.reports.snapshot.custody import (
    custody_collect,
    ledger_position,
    verification_collect,
)
from casework.reports.snapshot.damages import damages_collect
from casework.reports.snapshot.detection import case_groups, detection_summary
from casework.reports.snapshot.formation_record import (
    assent_screens_collect,
    terms_history_collect,
)
from casework.reports.snapshot.record import (
    accounts_collect,
    allegations_collect,
    batches_collect,
    case_links,
    terms_collect,
)
from casework.reports.snapshot.staff import staff_collect
from casework.reports.snapshot.usage import (
    prices_listed,
    usage_aggregates,
    usage_baseline,
    usage_limits,
)
from casework.reports.snapshot.values import iso
from evidence.custody.canonical import canonical_json, sha256_hex
from evidence.detectors.selectors import detection_run_latest

SCHEMA = "pacta.report.snapshot/1"


@dataclass(frozen=True)
class Snapshot:
    data: dict[str, Any]
    canonical: bytes
    sha256: str


def snapshot_from_bytes(canonical: bytes) -> Snapshot:
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


def _collect(case: Case) -> dict[str, Any]:
    links = case_links(case)
    detection = detection_run_latest()
    groups, group_of = case_groups(links, detection)
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
        usage = usage_aggregates(cursor, window)
        baseline = usage_baseline(cursor, window)
        detection_part = detection_summary(cursor, detection, links) if detection else None
        cursor.execute("DROP TABLE rep_case_account")

    accounts = accounts_collect(links, group_of, usage.pop("per_account"), detection_part)
    allegations = allegations_collect(case)
    terms = terms_collect(allegations, accounts)
    damages = damages_collect(links, allegations, (case.window_start, case.window_end))
    batches = batches_collect(
        usage["batches"], links, accounts, terms, also={r["batch"] for r in damages["billing"]}
    )
    limits = usage_limits(accounts, usage.pop("minutes"))
    data = {
        "schema": SCHEMA,
        "case": _case(case),
        "scope": {
            "window_start": iso(case.window_start),
            "window_end": iso(case.window_end),
            "max_usage_id": usage["totals"]["max_id"] or 0,
        },
        "groups": groups,
        "accounts": accounts,
        "usage": {**usage, "baseline": baseline},
        "limits": limits,
        "prices": prices_listed(),
        "damages": damages,
        "terms": terms,
        "terms_history": terms_history_collect(terms),
        "assent_screens": assent_screens_collect(accounts),
        "allegations": allegations,
        "detection": detection_part,
        "batches": batches,
        "output_use": output_use_collect(case=case),
        "verification": verification_collect(),
        "custody": custody_collect(case, allegations),
        "countermeasures": countermeasures_collect(case),
    }
    data["ledger"] = ledger_position(case, data)
    data["staff"] = staff_collect(data)
    return data


def _case(case: Case) -> dict[str, Any]:
    return {
        "reference": case.reference,
        "title": case.title,
        "respondent": case.respondent,
        "status": case.status,
        "privileged": case.privileged,
        "legal_hold": case.legal_hold,
        "legal_hold_since": iso(case.legal_hold_since),
        "window_start": iso(case.window_start),
        "window_end": iso(case.window_end),
        "opened_at": iso(case.opened_at),
        "opened_by": case.opened_by.get_username(),
    }
