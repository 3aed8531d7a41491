"""The damages exhibits: what section 9's figures add up (FRE 1006).

`damages.csv` is analysis: one row per attributed account and model, whether its requests
are flagged, the tokens counted under the pricing clause and their value at list price
(unrounded, so the section's totals are exact sums of it). `billing.csv` is the business
record: every billing record the figures rest on, with the SHA-256 of the record as
ingested. Accounts are named as the edition's policy says; the public edition gets both
as aggregates (by flagged or not, model, currency and kind), never an account's rows.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from casework.damages_rules import damages_figures
from casework.reports.exhibit_files import ExhibitSet
from casework.reports.redaction import Kind, Redactor, Rule
from evidence.custody.canonical import BILLING_HASHED


def _value(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _billing_id(redactor: Redactor, value: str) -> str:
    """A billing system's id as the edition gives it: an id that embeds an account id,
    an email or another identifier the edition hides has it replaced as everywhere else."""
    return value if redactor.counsel else redactor.text(value, field_name="billing id")


def _account_header(redactor: Redactor) -> str:
    if redactor.rule(Kind.ACCOUNT) == Rule.PSEUDONYM:
        return "account_pseudonym"
    return "account_id"


def damages_exhibits_write(exhibits: ExhibitSet, data: dict[str, Any], redactor: Redactor) -> None:
    figures = damages_figures(data)
    measure = "output tokens" if figures["output_only"] else "input and output tokens"
    if redactor.public:
        _public(exhibits, figures, measure)
        return
    exhibits.rows(
        "damages.csv",
        "Damages at list prices, by account and model",
        "One row per attributed account and model: whether its requests are flagged (its "
        "account fired at least one signal), its requests and tokens (the usage.csv rows of "
        f"that account and model), the tokens counted ({measure}) and their value at the "
        "list price, unrounded; input at list price is stated apart and not counted when "
        "the pricing clause is about Output (analysis).",
        [
            _account_header(redactor),
            "case_group",
            "flagged",
            "signals_fired",
            "model",
            "requests",
            "input_tokens",
            "output_tokens",
            "tokens_counted",
            "input_price_per_mtok",
            "output_price_per_mtok",
            "value_at_list_price",
            "input_value_not_counted",
        ],
        (
            [
                redactor.account(r["account_id"], where="damages.csv"),
                r["group"],
                r["flagged"],
                " ".join(r["signals"]),
                r["model"],
                r["requests"],
                r["input_tokens"],
                r["output_tokens"],
                r["claimed_tokens"],
                _value(r["input_price"]),
                _value(r["output_price"]),
                _value(r["claimed_value"]),
                _value(r["input_value_not_claimed"]),
            ]
            for r in figures["rows"]
        ),
        nature="analysis",
    )
    flagged = {a["account_id"]: bool(a["signals"]) for a in data["accounts"]}
    exhibits.rows(
        "billing.csv",
        "Billing and payment records",
        "Every invoice, payment, refund and chargeback of the attributed accounts the "
        "damages rest on, as the provider's billing system recorded it (business record, "
        "FRE 803(6)), amounts in minor units of their currency, with the SHA-256 of each "
        "record as ingested; flagged is added by the report.",
        [
            _account_header(redactor),
            "flagged",
            *BILLING_HASHED[1:],  # the billing system's own fields, after the account
            "content_sha256",
            "ingest_batch",
        ],
        (
            [
                redactor.account(r["account_id"], where="billing.csv"),
                flagged[r["account_id"]],
                r["kind"],
                _billing_id(redactor, r["billing_id"]),
                _billing_id(redactor, r["invoice_id"]),
                r["amount_minor"],
                r["currency"],
                r["occurred_at"],
                r["period_start"] or "",
                r["period_end"] or "",
                r["content_sha256"],
                r["batch"],
            ]
            for r in figures["billing"]
        ),
    )


def _public(exhibits: ExhibitSet, figures: dict[str, Any], measure: str) -> None:
    usage: dict[tuple[bool, str], list] = defaultdict(lambda: [0, 0, 0, 0, 0, Decimal(0), True])
    for r in figures["rows"]:
        entry = usage[(r["flagged"], r["model"])]
        entry[0] += 1
        for i, key in enumerate(("requests", "input_tokens", "output_tokens", "claimed_tokens")):
            entry[i + 1] += r[key]
        if r["claimed_value"] is None:
            entry[6] = False
        else:
            entry[5] += r["claimed_value"]
    exhibits.rows(
        "damages.csv",
        "Damages at list prices, by flagged or not and model",
        "Per flagged or not and model: accounts, requests, tokens, the tokens counted "
        f"({measure}) and their value at list price, unrounded (analysis; aggregates only).",
        ["flagged", "model", "accounts", "requests", "input_tokens", "output_tokens",
         "tokens_counted", "value_at_list_price"],
        (
            [f, m, e[0], e[1], e[2], e[3], e[4], str(e[5]) if e[6] else ""]
            for (f, m), e in sorted(usage.items())
        ),
        nature="analysis",
    )  # fmt: skip
    rows = []
    for flagged, key in ((True, "billing_flagged"), (False, "billing_unflagged")):
        for currency, totals in figures[key].items():
            for kind in ("invoice", "payment", "refund", "chargeback"):
                rows.append([flagged, currency, kind, totals[kind]])
    exhibits.rows(
        "billing.csv",
        "Billing and payment records, summed",
        "Per flagged accounts or the rest, currency and kind: the sum of the attributed "
        "accounts' billing records in minor units (aggregates only; no record is listed).",
        ["flagged", "currency", "kind", "amount_minor"],
        rows,
    )
