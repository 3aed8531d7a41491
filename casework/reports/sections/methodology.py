"""Section 7 of the report: the detection run, the error rates it measured on itself and
each detector's methodology; and how the exhibits mark cells a spreadsheet would run as
formulas (printed with the exhibit index)."""

from __future__ import annotations

from typing import Any

from casework.reports.formulas import FORMULA_NOTE
from casework.reports.sections.formatting import CATEGORY_LABELS, moment, n
from casework.reports.sections.source import Source
from evidence.detectors.error_rates import (
    detector_statement,
    label_statements,
    population_statements,
)


def methodology_section(source: Source) -> dict[str, Any]:
    detection = source.data["detection"]
    if not detection:
        return {"run": None, "detectors": [], "exhibit_cells": FORMULA_NOTE}
    run = detection["run"]
    # Measured by the run on its own population and on investigators' verdicts; absent
    # from runs (and snapshots) made before runs measured themselves.
    rates = run.get("error_rates")
    detectors = []
    for d in detection["detectors"]:
        method = d.get("methodology") or {}
        detectors.append(
            {
                "name": d.get("name") or d["code"],
                "code": d["code"],
                "kind": "attribution link" if d.get("kind") == "link" else "conduct signal",
                "version": d.get("run_version") or d.get("version") or "—",
                "categories": ", ".join(CATEGORY_LABELS.get(c, c) for c in d.get("categories", [])),
                "definition": method.get("definition", "Not described by the detector."),
                "threshold": method.get("threshold", "—"),
                "false_positives": method.get("false_positives", "—"),
                "error_rate": method.get("error_rate", "Not measured."),
                "measured": detector_statement(rates, d["code"], d.get("kind", "signal")),
            }
        )
    return {
        "run": {
            "id": run["id"],
            "finished_at": moment(run["finished_at"]),
            "window": f"{moment(run['window_start'])} to {moment(run['window_end'])}",
            "digest": run["digest"],
            "accounts_active": n(run["accounts_active"]),
            "versions": ", ".join(
                f"{k} v{v}" for k, v in sorted((run["detector_versions"] or {}).items())
            ),
        },
        # Disagreeing accounts are named for investigators on the run, not in a report
        # about one case: most of them are not the case's accounts.
        "error_rates": {
            "population": population_statements(rates),
            "labels": label_statements(rates, with_accounts=False),
        },
        "detectors": detectors,
        "exhibit_cells": FORMULA_NOTE,
    }
