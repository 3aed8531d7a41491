"""Every measurement a detection run made, kept as an evidence file of the run.

A finding compares an account with its plan cohort (median, percentile), but a run stores
findings only for the accounts it reports. The cohort behind each comparison is every
account the signal measured, so the run keeps all of them: one CSV row per account and
signal, hashed, stored and ledgered with the run, and named in the run's counts. A report
produces it (the accounts of its case left out, the others pseudonymised as the edition
requires) so the other side can recompute every median and percentile it cites.
"""

from __future__ import annotations

import csv
import io
import tempfile
from typing import Any

from evidence.custody.ledger import Actor
from evidence.models import EvidenceItem
from evidence.services import evidence_item_store

MEASUREMENT_COLUMNS = ("detector", "detector_version", "account_id", "cohort", "value", "fired")


def measurements_keep(*, actor: Actor, run, results: dict[str, list]) -> dict[str, Any]:
    """Write `results` (account id -> its signal results) as the run's measurements file;
    returns what the run's counts say of it (`measurements_file` reads it back)."""
    rows = 0
    with tempfile.TemporaryFile(prefix="pacta-measurements-") as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
        out = csv.writer(text, lineterminator="\n")
        out.writerow(MEASUREMENT_COLUMNS)
        for account_id in sorted(results):
            for r in sorted(results[account_id], key=lambda r: r.signal.code):
                out.writerow(
                    [
                        r.signal.code,
                        r.signal.version,
                        account_id,
                        r.plan or "",
                        repr(float(r.measure.value)),
                        "true" if r.fired else "false",
                    ]
                )
                rows += 1
        text.flush()
        text.detach()
        spool.seek(0)
        item = evidence_item_store(
            actor=actor,
            stream=spool,
            file_name=f"detection-run-{run.pk}-measurements.csv",
            kind=EvidenceItem.Kind.OTHER,
            source=f"detection run {run.pk}",
            description=f"Every account's measurement by every signal in detection run {run.pk}",
        )
    return {"evidence_item": item.pk, "sha256": item.sha256, "rows": rows}


def measurements_file(run) -> EvidenceItem | None:
    """The run's measurements file, checked against the hash its counts recorded."""
    kept = (run.counts or {}).get("measurements")
    if not kept:
        return None  # a run made before runs kept their measurements
    item = EvidenceItem.objects.filter(pk=kept["evidence_item"], sha256=kept["sha256"]).first()
    if item is None:
        raise ValueError(
            f"detection run {run.pk}: its measurements file (evidence item "
            f"{kept['evidence_item']}, SHA-256 {kept['sha256']}) is missing or changed"
        )
    return item
