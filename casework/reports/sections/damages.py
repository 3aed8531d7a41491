"""Section 9 of the report: damages, the usage valued at list prices, and the limits exceeded."""

from __future__ import annotations

from typing import Any

from casework.case_rules import usage_value
from casework.reports.sections.formatting import CENT, day, moment, money, n
from casework.reports.sections.source import Source


def damages_section(source: Source) -> dict[str, Any]:
    data = source.data
    prices = {p["model"]: p for p in data["prices"]}
    valued = usage_value(
        usage=data["usage"]["by_model"],
        prices={m: (p["input_per_mtok"], p["output_per_mtok"]) for m, p in prices.items()},
    )
    total = valued["value"]
    rows = []
    for row in valued["models"]:
        price = prices.get(row["model"])
        rows.append(
            {
                "model": row["model"],
                "requests": n(row["requests"]),
                "input_tokens": n(row["input_tokens"]),
                "output_tokens": n(row["output_tokens"]),
                "input_price": f"${price['input_per_mtok']}" if price else "—",
                "output_price": f"${price['output_per_mtok']}" if price else "—",
                "value": money(row["value"]) if price else "no list price",
            }
        )
    limits = data["limits"]
    totals = data["usage"]["totals"]
    return {
        "prices": [
            {
                "model": p["model"],
                "released": day(p["released_at"]),
                "input": f"${p['input_per_mtok']}",
                "output": f"${p['output_per_mtok']}",
                "source": p["source_file"] or "—",
                "sha256": p["source_sha256"] or "—",
            }
            for p in data["prices"]
        ],
        "by_model": rows,
        "missing": valued["unpriced"],
        "total": str(total.quantize(CENT)),
        "total_display": money(total) if data["prices"] else "not computed (no list prices)",
        "throttled": n(totals["throttled"]),
        "limits": {
            **{k: (n(v) if isinstance(v, int) else v) for k, v in limits.items()
               if k not in ("plan_limits", "plans", "peak_minute")},
            "peak_minute": moment(limits["peak_minute"]),
            "plan_limits": [
                {"plan": p["plan"], "rpm": n(p["requests_per_minute"]),
                 "tpm": n(p["tokens_per_minute"])}
                for p in limits["plan_limits"]
            ],
            "known": bool(limits["plan_limits"]),
        },
    }  # fmt: skip
