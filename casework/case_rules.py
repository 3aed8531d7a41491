"""The case's domain rules, each written once: what the case window selects from usage,
which detectors support an allegation, and how usage is valued.

The case page, the REST API and the signed report call these, so the screen and the PDF
cannot drift apart: a supporting finding or a dollar figure is computed by one rule
whether it is read live (the page) or from a frozen snapshot (the report).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from casework.models import CaseOutputEvidence
from evidence.models import ProbeExchange
from evidence.probes.canaries import CHANCE_STATEMENT, MATCH_STATEMENT
from evidence.probes.claims import probe_claims_measure
from evidence.probes.overlap import probe_overlap_measure

# --- The case window ---------------------------------------------------------------------
# A usage row is in the case when its instant lies in the window, bounds included; a
# window with no start (or no end) is open on that side.


def _window_bounds(start, end) -> list[tuple[str, str, Any]]:
    return [
        (operator, name, value)
        for operator, name, value in ((">=", "window_start", start), ("<=", "window_end", end))
        if value is not None
    ]


def usage_window_sql(*, start, end, alias: str = "u") -> tuple[str, dict[str, Any]]:
    """The window as a WHERE fragment on `alias.ts` with named parameters (`TRUE` when
    the case has no window)."""
    bounds = _window_bounds(start, end)
    where = " AND ".join(f"{alias}.ts {op} %({name})s" for op, name, _ in bounds)
    return where or "TRUE", {name: value for _, name, value in bounds}


def usage_window_literal(*, start, end, alias: str = "u") -> sql.Composed:
    """The same fragment with its values inlined, for statements that take no parameters
    (COPY ... TO STDOUT). `start` and `end` may be datetimes or ISO 8601 strings."""
    bounds = _window_bounds(_instant(start), _instant(end))
    if not bounds:
        return sql.Composed([sql.SQL("TRUE")])
    return sql.SQL(" AND ").join(
        sql.SQL(f"{alias}.ts {op} {{}}").format(sql.Literal(value)) for op, _, value in bounds
    )


def _instant(value):
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


# --- Which findings support an allegation ------------------------------------------------


@dataclass(frozen=True)
class Support:
    """One detector's support for an allegation: a conduct signal that fired on attributed
    accounts, or an attribution link kind with links touching them."""

    code: str
    name: str
    kind: str  # "signal" or "link"
    count: int  # accounts the signal fired on, or links of the kind
    measured: int | None = None  # accounts the signal measured

    @property
    def what(self) -> str:
        if self.kind == "link":
            return f"{self.count:,} links"
        return f"fired on {self.count:,} of {self.measured or 0:,} accounts measured"


def allegation_supports(
    *,
    category: str,
    detectors: Iterable[Mapping[str, Any]],
    fired: Mapping[str, int],
    measured: Mapping[str, int],
    links: Mapping[str, int],
) -> list[Support]:
    """The detectors whose declared categories include the clause's `category` and that
    found something among the case's accounts, by detector code.

    `detectors` are the detectors' descriptions (`code`, `name`, `kind`, `categories`);
    `fired` and `measured` count accounts per signal, `links` count links per link kind
    (links with at least one attributed account, in the latest finished detection run).
    """
    result = []
    for detector in sorted(detectors, key=lambda d: d["code"]):
        if category not in detector.get("categories", []):
            continue
        code = detector["code"]
        name = detector.get("name") or code
        if detector.get("kind") == "link":
            if links.get(code, 0):
                result.append(Support(code=code, name=name, kind="link", count=links[code]))
        elif fired.get(code, 0):
            result.append(
                Support(
                    code=code,
                    name=name,
                    kind="signal",
                    count=fired[code],
                    measured=measured.get(code, 0),
                )
            )
    return result


# --- Use of the outputs --------------------------------------------------------------------


def output_use_collect(*, case) -> dict[str, Any] | None:
    """The evidence of use attached to `case`, measured again from the record: the probe
    batches, each attached target's identity claims against the controls in those batches,
    the output overlap, and the canary matches. None when nothing is attached.

    One rule for the case page and the report's snapshot: the figures a reader sees on
    screen are the figures the signed report states. JSON-native, ordered, clock-free.
    """
    attached = list(
        CaseOutputEvidence.objects.filter(case=case)
        .select_related("batch", "canary_match__canary", "canary_match__exchange")
        .order_by("kind", "pk")
    )
    if not attached:
        return None
    kind = CaseOutputEvidence.Kind
    batches = [a.batch for a in attached if a.kind == kind.PROBE_BATCH]
    batch_ids = sorted(b.pk for b in batches)
    per_batch: dict[int, dict[str, Any]] = {}
    rows = ProbeExchange.objects.filter(batch_id__in=batch_ids).values_list(
        "batch_id", "target", "control"
    )
    for batch_id, target, control in rows.iterator(chunk_size=5000):
        entry = per_batch.setdefault(batch_id, {"probes": 0, "targets": set(), "controls": set()})
        entry["probes"] += 1
        entry["controls" if control else "targets"].add(target)
    batch_rows = [
        {
            "id": b.pk,
            "file_name": b.file_name,
            "raw_sha256": b.raw_sha256,
            "rows_digest": b.rows_digest,
            "received_at": b.started_at.isoformat(),
            "probes": per_batch.get(b.pk, {}).get("probes", 0),
            "targets": sorted(per_batch.get(b.pk, {}).get("targets", ())),
            "controls": sorted(per_batch.get(b.pk, {}).get("controls", ())),
        }
        for b in sorted(batches, key=lambda b: b.pk)
    ]
    claims = []
    by_names: dict[tuple[str, ...], list[str]] = {}
    for a in attached:
        if a.kind == kind.IDENTITY_CLAIMS:
            by_names.setdefault(tuple(sorted(a.names)), []).append(a.target)
    for names, targets in sorted(by_names.items()):
        measured = probe_claims_measure(names=names, batches=batch_ids)
        figures = {t["target"]: t for t in measured["targets"] if not t["control"]}
        claims.append(
            {
                "names": measured["names"],
                "patterns_sha256": measured["patterns_sha256"],
                "detector": measured["detector"],
                "targets": [figures[t] for t in sorted(targets) if t in figures],
                "controls": [t for t in measured["targets"] if t["control"]],
            }
        )
    matches = [
        {
            "canary_id": m.canary.canary_id,
            "canary_sha256": m.canary.sha256,
            "canary_text": m.canary.text,
            "probe_id": m.exchange.probe_id,
            "target": m.exchange.target,
            "accounts": list(m.accounts),
            "serves": m.serves,
            "chance": m.chance,
            "method": m.method,
            "quote": m.quote,
            "sha256": m.content_sha256,
        }
        for m in sorted(
            (a.canary_match for a in attached if a.kind == kind.CANARY_MATCH),
            key=lambda m: (m.canary.canary_id, m.exchange.probe_id),
        )
    ]
    return {
        "batches": batch_rows,
        "claims": claims,
        "overlap": probe_overlap_measure(batches=batch_ids) if batch_ids else None,
        "matches": matches,
        "canary_method": {"match": MATCH_STATEMENT, "chance": CHANCE_STATEMENT},
    }
