"""How damages are computed, under stated theories: the report's figures (from the snapshot
alone) and the case page's (from the same rows), by one rule so the two never disagree.

Two theories, each computed only from what is loaded, and each stated in the report:

- **List price of the Output obtained.** The clause that prices misuse (found by its words:
  `MEASURE_WORDS`) says what is paid for. When it is about Output (the
  demo Terms 13.3: "you will pay for that Output at our list prices"), only output tokens
  are counted; input tokens are stated beside them and never summed in. With no such
  clause, every token consumed is valued, and the report says so.
- **Charged against paid.** The billing records of the accounts: invoiced, paid, refunded
  and charged back, per currency (never converted), and the unpaid balance
  (invoiced - paid + refunded + charged back).

Both are given for the flagged requests separately from the rest. A request is flagged
when its account is one on which the latest detection run fired at least one signal: the
requests the findings rest on, as opposed to those of attributed accounts that fired none.

Every figure here is a sum of rows of the damages exhibits (`damages.csv`, `billing.csv`),
so anyone holding the exhibits recomputes it exactly (FRE 1006).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Subquery

from casework.case_rules import usage_window_sql
from evidence.models import Clause, DetectionRun, Finding, ModelRelease

MILLION = Decimal(1_000_000)
# ISO 4217 minor units that are not 2 (the common exceptions; any other code is 2).
MINOR_UNIT_DIGITS = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0,
    "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0,
    "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip
BILLING_KINDS = ("invoice", "payment", "refund", "chargeback")
# The list prices of the catalogue are in US dollars: only USD billing is set against them.
PRICE_CURRENCY = "USD"
NOT_COMPUTED = "not computed: no price list and no billing records loaded"
NO_PRICES = "not computed: no price list loaded"
NO_BILLING = "not computed: no billing records loaded for the attributed accounts"


def major_units(amount_minor: int, currency: str) -> Decimal:
    """An amount in minor units as a decimal of its currency's major unit (exact)."""
    return Decimal(amount_minor).scaleb(-MINOR_UNIT_DIGITS.get(currency, 2))


def about_output(clause: dict[str, Any] | None) -> bool:
    """Whether the pricing clause prices Output (the defined term, capitalised) only."""
    return clause is not None and "Output" in clause["text"]


def _prices(data: dict[str, Any]) -> dict[str, tuple[Decimal, Decimal]]:
    return {
        p["model"]: (Decimal(str(p["input_per_mtok"])), Decimal(str(p["output_per_mtok"])))
        for p in data["prices"]
    }


def usage_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per attributed account and model: the rows of `damages.csv`."""
    prices = _prices(data)
    output_only = about_output((data.get("damages") or {}).get("measure_clause"))
    rows = []
    for account in data["accounts"]:
        flagged = bool(account["signals"])
        for model, (requests, tokens_in, tokens_out) in sorted(
            account["usage"]["by_model"].items()
        ):
            price = prices.get(model)
            claimed = tokens_out if output_only else tokens_in + tokens_out
            row = {
                "account_id": account["account_id"],
                "group": account["group"],
                "flagged": flagged,
                "signals": account["signals"],
                "model": model,
                "requests": requests,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "claimed_tokens": claimed,
                "input_price": price[0] if price else None,
                "output_price": price[1] if price else None,
                "claimed_value": None,
                "input_value_not_claimed": None,
            }
            if price is not None:
                value_out = Decimal(tokens_out) / MILLION * price[1]
                value_in = Decimal(tokens_in) / MILLION * price[0]
                row["claimed_value"] = value_out if output_only else value_out + value_in
                row["input_value_not_claimed"] = value_in if output_only else Decimal(0)
            rows.append(row)
    return rows


def _usage_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {
        "accounts": len({r["account_id"] for r in rows}),
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "claimed_tokens": 0,
        "claimed_value": Decimal(0),
        "input_value_not_claimed": Decimal(0),
        "unpriced_models": sorted({r["model"] for r in rows if r["claimed_value"] is None}),
    }
    for r in rows:
        for key in ("requests", "input_tokens", "output_tokens", "claimed_tokens"):
            total[key] += r[key]
        if r["claimed_value"] is not None:
            total["claimed_value"] += r["claimed_value"]
            total["input_value_not_claimed"] += r["input_value_not_claimed"]
    return total


def billing_totals(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """{currency: {invoice, payment, refund, chargeback, unpaid_balance, records}} in
    minor units, over `records`."""
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: {**dict.fromkeys(BILLING_KINDS, 0), "records": 0}
    )
    for r in records:
        entry = totals[r["currency"]]
        entry[r["kind"]] += r["amount_minor"]
        entry["records"] += 1
    for entry in totals.values():
        entry["unpaid_balance"] = (
            entry["invoice"] - entry["payment"] + entry["refund"] + entry["chargeback"]
        )
    return dict(sorted(totals.items()))


def damages_for_elements(figures: dict[str, Any]) -> dict[str, Any]:
    """What the elements checklist reads of the damages (`casework.elements`): the flagged
    requests' value when a price list is loaded (None when not, never 0.00), the models left
    unvalued for want of a price, and every request counted."""
    flagged, rest = figures["flagged"], figures["unflagged"]
    priced = figures["prices_loaded"]
    return {
        "priced": priced,
        "value": flagged["claimed_value"] if priced else None,
        "unpriced": sorted(set(flagged["unpriced_models"]) | set(rest["unpriced_models"]))
        if priced
        else [],
        "requests": flagged["requests"] + rest["requests"],
        "flagged_requests": flagged["requests"],
    }


def damages_figures(data: dict[str, Any]) -> dict[str, Any]:
    """Every damages figure of the report, unformatted (module docstring)."""
    damages = data.get("damages") or {"billing": [], "measure_clause": None}
    clause = damages["measure_clause"]
    rows = usage_rows(data)
    flagged_accounts = {a["account_id"] for a in data["accounts"] if a["signals"]}
    billing = damages["billing"]
    figures: dict[str, Any] = {
        "measure_clause": clause,
        "output_only": about_output(clause),
        "prices_loaded": bool(data["prices"]),
        "billing_loaded": bool(billing),
        "rows": rows,
        "flagged": _usage_totals([r for r in rows if r["flagged"]]),
        "unflagged": _usage_totals([r for r in rows if not r["flagged"]]),
        "billing": billing,
        "billing_flagged": billing_totals(
            [r for r in billing if r["account_id"] in flagged_accounts]
        ),
        "billing_unflagged": billing_totals(
            [r for r in billing if r["account_id"] not in flagged_accounts]
        ),
    }
    # What the flagged accounts paid in the catalogue's currency, set against the list
    # value of their Output (13.3: "without discounts or credits").
    usd = figures["billing_flagged"].get(PRICE_CURRENCY)
    if figures["prices_loaded"] and usd is not None:
        received = major_units(usd["payment"] - usd["refund"] - usd["chargeback"], PRICE_CURRENCY)
        figures["flagged_net_received_usd"] = received
        figures["flagged_value_unpaid_usd"] = figures["flagged"]["claimed_value"] - received
    return figures


# The clause that sets what misuse costs names the list prices (in the demo Terms, 13.3:
# "you will pay for that Output at our list prices"). Found by its words, not its number,
# because every provider numbers its Terms differently.
MEASURE_WORDS = "list price"


def measure_clause_collect(allegations: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The clause of the alleged Terms that prices misuse (the latest version's), or None."""
    documents = sorted({a["clause"]["document"] for a in allegations})
    return measure_clause_in(documents) if documents else None


def measure_clause_in(documents) -> dict[str, Any] | None:
    """`measure_clause_collect` for the documents named (slugs, or a query giving them)."""
    clause = (
        Clause.objects.filter(version__document__slug__in=documents, text__icontains=MEASURE_WORDS)
        .select_related("version__document")
        .order_by("-version__effective_date", "position", "pk")
        .first()
    )
    if clause is None:
        return None
    return {
        "document": clause.version.document.slug,
        "version": clause.version.label,
        "path": clause.path,
        "text": clause.text,
        "text_sha256": clause.text_sha256,
    }


def prices_as_data() -> list[dict[str, Any]]:
    """The catalogue's list prices in the snapshot's shape (what `damages_figures` reads)."""
    return [
        {
            "model": m.model,
            "input_per_mtok": str(m.list_price_per_mtok_input),
            "output_per_mtok": str(m.list_price_per_mtok_output),
        }
        for m in ModelRelease.objects.order_by("model")
    ]


# Everything the case page's damages depend on, read in one statement: the figure is
# cached under a key made of these, so it is recomputed exactly when one of them changes.
_INPUTS_SQL = """
SELECT (SELECT count(*) FROM casework_caseaccount WHERE case_id = %(case)s),
       (SELECT max(id) FROM casework_caseaccount WHERE case_id = %(case)s),
       (SELECT max(id) FROM evidence_ingestbatch WHERE kind = 'usage'),
       (SELECT max(id) FROM evidence_retentionpurge),
       (SELECT max(imported_at) FROM evidence_modelrelease),
       (SELECT id FROM evidence_detectionrun WHERE status = 'finished'
        ORDER BY finished_at DESC, id DESC LIMIT 1),
       (SELECT max(id) FROM evidence_termsversion),
       (SELECT count(*) FROM casework_allegation WHERE case_id = %(case)s),
       (SELECT max(id) FROM casework_allegation WHERE case_id = %(case)s)
"""


def case_damages_key(*, case) -> str:
    """A key naming every input of `case_damages_value`: attributed accounts, window, usage
    ingested or purged, prices, the latest detection run, Terms and allegations."""
    with connection.cursor() as cursor:
        cursor.execute(_INPUTS_SQL, {"case": case.pk})
        row = cursor.fetchone()
    window = (case.window_start, case.window_end)
    parts = [case.pk, *row, *(w and w.isoformat() for w in window)]
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def case_damages_value(*, case) -> dict[str, Any]:
    """The case page's damages: the flagged requests valued as the report values them."""
    window, params = usage_window_sql(start=case.window_start, end=case.window_end)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.account_id, u.model, count(*), coalesce(sum(u.input_tokens), 0), "
            "coalesce(sum(u.output_tokens), 0), min(u.ts), max(u.ts), "
            "count(*) FILTER (WHERE u.status = 429) "
            "FROM evidence_usageevent u "
            "JOIN evidence_account a ON a.account_id = u.account_id "
            "JOIN casework_caseaccount ca ON ca.account_id = a.id "
            f"WHERE ca.case_id = %(case)s AND {window} GROUP BY 1, 2 ORDER BY 1, 2",
            {"case": case.pk, **params},
        )
        rows = cursor.fetchall()
    latest_run = (
        DetectionRun.objects.filter(status=DetectionRun.Status.FINISHED)
        .order_by("-finished_at", "-pk")
        .values("pk")[:1]
    )  # `detection_run_latest`, as a subquery of the one query for the findings
    fired = set(
        Finding.objects.filter(
            run_id=Subquery(latest_run), fired=True, account__account_id__in={r[0] for r in rows}
        ).values_list("account__account_id", flat=True)
    )
    accounts: dict[str, dict[str, Any]] = {}
    for account_id, model, requests, tokens_in, tokens_out, *_ in rows:
        account = accounts.setdefault(
            account_id,
            {
                "account_id": account_id,
                "group": "",
                "signals": ["fired"] if account_id in fired else [],
                "usage": {"by_model": {}},
            },
        )
        account["usage"]["by_model"][model] = [requests, int(tokens_in), int(tokens_out)]
    documents = case.allegations.values("clause__version__document__slug")
    figures = damages_figures(
        {
            "accounts": list(accounts.values()),
            "prices": prices_as_data(),
            "damages": {"billing": [], "measure_clause": measure_clause_in(documents)},
        }
    )
    flagged, rest = figures["flagged"], figures["unflagged"]
    return {
        **damages_for_elements(figures),
        "output_tokens": flagged["output_tokens"] + rest["output_tokens"],
        "output_only": figures["output_only"],
        # The conduct period and the requests refused at a limit (HTTP 429), from the same
        # pass, for the elements checklist.
        "first_ts": min((r[5] for r in rows), default=None),
        "last_ts": max((r[6] for r in rows), default=None),
        "throttled": sum(r[7] for r in rows),
    }
