"""The case accounts' usage as the snapshot freezes it: one scan aggregated several ways,
the baseline of every other customer, the plan limits and the list prices."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from casework.case_rules import usage_window_sql
from casework.reports.snapshot.values import fetch, instant_iso, iso, num
from evidence.custody.canonical import instant_sql
from evidence.models import ModelRelease, PlanLimit

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


def usage_aggregates(cursor, window) -> dict[str, Any]:
    """One scan of the case accounts' usage, aggregated several ways at once."""
    where, params = usage_window_sql(start=window[0], end=window[1])
    sets = ", ".join(f"({', '.join(columns)})" for columns in _SETS.values())
    # Instants come back as integers (see `instant_sql`): a case's busy minutes alone are
    # tens of thousands of rows, and only a few of their timestamps are ever shown.
    selected = ", ".join(f"{instant_sql(c)} AS {c}" if c == "minute" else c for c in _USAGE_COLUMNS)
    rows = fetch(
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
        "first_ts": instant_iso(total["first_ts"]) if total else None,
        "last_ts": instant_iso(total["last_ts"]) if total else None,
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
            instant_iso(entry["first_ts"]),
            instant_iso(entry["last_ts"]),
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


def usage_baseline(cursor, window) -> dict[str, Any]:
    """The daily rhythm of every other customer in the same window: what ordinary looks like."""
    where, params = usage_window_sql(start=window[0], end=window[1])
    rows = fetch(
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


def usage_limits(accounts: list[dict], minutes: list[tuple]) -> dict[str, Any]:
    """Combined traffic per minute against the most generous single-account limit among
    the case's plans: more than one account may carry (Terms 3.4: limits apply to the
    customer as a whole, not per account)."""
    plans = sorted({a["plan"] for a in accounts if a["plan"]})
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
            instant_iso(max(minutes, key=lambda m: (m[1], m[2]))[2]) if minutes else None
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


def prices_listed() -> list[dict[str, Any]]:
    return [
        {
            "model": m.model,
            "released_at": iso(m.released_at),
            "input_per_mtok": num(m.list_price_per_mtok_input),
            "output_per_mtok": num(m.list_price_per_mtok_output),
            "source_file": m.source_file,
            "source_sha256": m.source_sha256,
        }
        for m in ModelRelease.objects.order_by("model")
    ]
