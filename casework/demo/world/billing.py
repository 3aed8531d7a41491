"""The provider's billing export for the demo world: each account's monthly invoice for
the usage it made, at its plan's contract price, and what it paid (issue #18: damages
from what was charged and paid as well as list prices).

Written from usage.ndjson after the world's own files, which stay byte for byte as they
were, with a generator of its own seeded by the world's seed: the same seed gives the
same bytes. What it shows is what a distillation case meets: the accounts were charged
less than list (plan discounts; Terms 13.3 claims list "without discounts or credits"),
the adversaries leave invoices part-paid or unpaid and charge payments back, and ordinary
customers pay, now and then with a service credit refunded.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import orjson

from casework.demo.world.population import Population
from casework.demo.world.provider import MODELS
from casework.demo.world.writers import lines_write

BILLING_FILE = "billing.ndjson"
# Off list, by plan: what the contract charges. The damages theory values at list.
PLAN_DISCOUNT = {
    "tier-3": Decimal("0.05"),
    "tier-4": Decimal("0.10"),
    "tier-5": Decimal("0.15"),
    "enterprise": Decimal("0.25"),
}
PRICES = {
    m["model"]: (Decimal(str(m["list_price_per_mtok_input"])),
                 Decimal(str(m["list_price_per_mtok_output"])))
    for m in MODELS
}  # fmt: skip
MILLION = Decimal(1_000_000)


def _month(ts: str) -> str:
    return ts[:7]  # "2026-01"


def _period(month: str) -> tuple[datetime, datetime]:
    start = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(prefix: str, seed: int, *parts: str) -> str:
    """An opaque id, as billing systems issue them: never the account id inside it."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).hexdigest()
    return f"{prefix}_{digest[:20]}"


def _usage_by_account_month(usage_path: Path) -> dict[tuple[str, str], dict[str, list[int]]]:
    usage: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(dict)
    with usage_path.open("rb") as fh:
        for line in fh:
            event = orjson.loads(line)
            tokens = usage[(event["account_id"], _month(event["ts"]))].setdefault(
                event["model"], [0, 0]
            )
            tokens[0] += event["input_tokens"]
            tokens[1] += event["output_tokens"]
    return usage


def _charge(tokens: dict[str, list[int]], plan: str) -> int:
    """The invoice in cents: the usage at list price, less the plan's discount."""
    total = Decimal(0)
    for model, (tokens_in, tokens_out) in tokens.items():
        price_in, price_out = PRICES.get(model, (Decimal(0), Decimal(0)))
        total += Decimal(tokens_in) / MILLION * price_in + Decimal(tokens_out) / MILLION * price_out
    total *= 1 - PLAN_DISCOUNT.get(plan, Decimal(0))
    return int((total * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def billing_records(world: Population, usage_path: Path, *, seed: int) -> list[dict]:
    """Invoices, payments, refunds and chargebacks, by account and month, in a fixed order."""
    rng = random.Random(f"billing-{seed}")
    accounts = {a.account_id: a for a in world.accounts}
    usage = _usage_by_account_month(usage_path)
    records = []
    for account_id, month in sorted(usage):
        account = accounts[account_id]
        amount = _charge(usage[(account_id, month)], account.plan)
        if amount <= 0:
            continue
        _, end = _period(month)
        start, _ = _period(month)
        invoice_id = _id("in", seed, account_id, month)
        records.append({
            "account_id": account_id, "kind": "invoice", "billing_id": invoice_id,
            "amount_minor": amount, "currency": "USD", "ts": _iso(end),
            "period_start": _iso(start), "period_end": _iso(end),
        })  # fmt: skip
        draw = rng.random()
        if account.role == "adversary":
            paid = amount if draw < 0.6 else amount // 2 if draw < 0.85 else 0
        else:
            paid = amount
        paid_at = end + timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 23))
        if paid:
            payment_id = _id("py", seed, account_id, month)
            records.append({
                "account_id": account_id, "kind": "payment", "billing_id": payment_id,
                "invoice_id": invoice_id, "amount_minor": paid, "currency": "USD",
                "ts": _iso(paid_at),
            })  # fmt: skip
            # A card disputed after the charge (adversaries), or a service credit refunded.
            later = paid_at + timedelta(days=rng.randint(10, 40))
            if account.role == "adversary" and rng.random() < 0.2:
                records.append({
                    "account_id": account_id, "kind": "chargeback",
                    "billing_id": _id("cb", seed, account_id, month), "invoice_id": invoice_id,
                    "amount_minor": paid, "currency": "USD", "ts": _iso(later),
                })  # fmt: skip
            elif account.role != "adversary" and rng.random() < 0.03:
                records.append({
                    "account_id": account_id, "kind": "refund",
                    "billing_id": _id("re", seed, account_id, month), "invoice_id": invoice_id,
                    "amount_minor": max(1, paid // 10), "currency": "USD", "ts": _iso(later),
                })  # fmt: skip
    records.sort(key=lambda r: (r["ts"], r["billing_id"]))
    return records


def billing_write(world: Population, out_dir: Path, *, seed: int) -> int:
    """Write billing.ndjson from the world's usage file; the number of records written."""
    records = billing_records(world, out_dir / "usage.ndjson", seed=seed)
    lines_write(out_dir / BILLING_FILE, records)
    return len(records)
