"""Section 9 of the report: damages under stated theories, and the limits exceeded.

The figures come from `casework.damages_rules` (flagged requests apart from the
rest, output tokens apart from input when the pricing clause is about Output, charged
against paid); this module words them. A figure that cannot be computed says why, in
words, and is never printed as 0.00.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from casework.damages_rules import (
    MINOR_UNIT_DIGITS,
    NO_BILLING,
    NO_PRICES,
    NOT_COMPUTED,
    PRICE_CURRENCY,
    damages_figures,
    major_units,
)
from casework.reports.sections.formatting import CENT, day, moment, money, n
from casework.reports.sections.source import Source


def amount(amount_minor: int, currency: str) -> str:
    """An amount of a currency as the report prints it: USD 1,234.50."""
    digits = MINOR_UNIT_DIGITS.get(currency, 2)
    return f"{currency} {major_units(amount_minor, currency):,.{digits}f}"


def _usage_part(totals: dict[str, Any], *, prices_loaded: bool) -> dict[str, Any]:
    if not totals["requests"]:
        value = "none: no such request"
    elif not prices_loaded:
        value = NO_PRICES
    else:
        value = money(totals["claimed_value"])
    return {
        "accounts": n(totals["accounts"]),
        "requests": n(totals["requests"]),
        "input_tokens": n(totals["input_tokens"]),
        "output_tokens": n(totals["output_tokens"]),
        "claimed_tokens": n(totals["claimed_tokens"]),
        "value": value,
        "input_value": (
            money(totals["input_value_not_claimed"])
            if prices_loaded and totals["requests"]
            else "—"
        ),
        "unpriced": totals["unpriced_models"] if prices_loaded else [],
    }


def _billing_part(totals: dict[str, dict[str, int]]) -> list[dict[str, str]]:
    return [
        {
            "currency": currency,
            "records": n(t["records"]),
            "invoiced": amount(t["invoice"], currency),
            "paid": amount(t["payment"], currency),
            "refunded": amount(t["refund"], currency),
            "charged_back": amount(t["chargeback"], currency),
            "unpaid_balance": amount(t["unpaid_balance"], currency),
        }
        for currency, t in totals.items()
    ]


def _theory(figures: dict[str, Any]) -> dict[str, Any]:
    clause = figures["measure_clause"]
    if clause is None:
        basis = (
            "No clause of the alleged Terms prices misuse at list prices; the usage is valued "
            "at list price for every token consumed, input and output."
        )
    else:
        basis = f"{clause['document']} {clause['version']} § {clause['path']}: {clause['text']}"
    measure = (
        "output tokens only: the clause is about Output, so input tokens are stated beside "
        "them and not counted"
        if figures["output_only"]
        else "input and output tokens"
    )
    return {
        "clause": clause,
        "basis": basis,
        "measure": measure,
        "output_only": figures["output_only"],
        "flagged_rule": (
            "A request is flagged when its account is one on which the latest detection run "
            "fired at least one signal; the rest are the requests of attributed accounts on "
            "which none fired."
        ),
    }


def damages_section(source: Source) -> dict[str, Any]:
    data = source.data
    figures = damages_figures(data)
    prices_loaded, billing_loaded = figures["prices_loaded"], figures["billing_loaded"]
    flagged = figures["flagged"]
    if prices_loaded:
        total: Decimal | None = flagged["claimed_value"]
        total_display = money(total) if flagged["requests"] else "none: no request was flagged"
    else:
        total = None
        total_display = NO_PRICES if billing_loaded else NOT_COMPUTED
    tokens = "output tokens" if figures["output_only"] else "tokens"
    if total is not None and flagged["requests"]:
        worth = (
            f"; the {tokens} of their flagged requests are worth {money(total)} at the "
            "provider's list prices (section 9)"
        )
    elif not prices_loaded and not billing_loaded:
        worth = f"; damages are {NOT_COMPUTED}"
    elif not prices_loaded:
        worth = "; their value at list prices is not computed (no price list loaded), and "
        worth += "what they were charged and paid is in section 9"
    else:
        worth = "; none of their requests was flagged (section 9)"
    limits = data["limits"]
    totals = data["usage"]["totals"]
    result: dict[str, Any] = {
        "theory": _theory(figures),
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
        "prices_loaded": prices_loaded,
        "billing_loaded": billing_loaded,
        "flagged": _usage_part(flagged, prices_loaded=prices_loaded),
        "unflagged": _usage_part(figures["unflagged"], prices_loaded=prices_loaded),
        "missing": sorted(
            set(flagged["unpriced_models"]) | set(figures["unflagged"]["unpriced_models"])
        )
        if prices_loaded
        else [],
        # Unformatted, for report data: None (never 0.00) when it is not computed.
        "total": str(total.quantize(CENT)) if total is not None else None,
        "total_display": total_display,
        "headline": total_display,
        "worth": worth,
        "billing": {
            "flagged": _billing_part(figures["billing_flagged"]),
            "unflagged": _billing_part(figures["billing_unflagged"]),
            "records": n(len(figures["billing"])),
            "missing": "" if billing_loaded else NO_BILLING,
        },
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
    if "flagged_net_received_usd" in figures:
        unpaid = figures["flagged_value_unpaid_usd"]
        result["set_off"] = {
            "received": money(figures["flagged_net_received_usd"]),
            # Never a negative "not paid for": paying more than list is said as such.
            "unpaid": money(unpaid) if unpaid > 0 else None,
            "overpaid": money(-unpaid) if unpaid <= 0 else None,
            "currency": PRICE_CURRENCY,
        }
    return result
