"""The report's sections as data: the snapshot read through one edition's redactions.

Everything a template prints comes from here, and everything here comes from the
snapshot (never from a live query), so the PDF says exactly what was hashed. Tables are
capped (`PACTA_REPORT_TABLE_ROWS`): a case of a million requests and five thousand
accounts still prints a few dozen pages, and each capped table names the exhibit that
holds all of its rows. Each section is a module of `casework.reports.sections`.
"""

from __future__ import annotations

from typing import Any

from casework.reports.redaction import COUNSEL, PUBLIC, REGULATOR, Redactor, legend
from casework.reports.sections import (
    Source,
    chronology_section,
    clauses_section,
    countermeasures_section,
    damages_section,
    elements_section,
    formation_section,
    methodology_section,
    moment,
    output_use_section,
    parties_section,
    preservation_section,
    statistics_section,
    summary_section,
)
from casework.reports.sections.methods_census import methods_census_section

EDITION_LABELS = {
    COUNSEL: "Counsel edition",
    REGULATOR: "Regulator edition",
    PUBLIC: "Public record edition",
}


def report_context(
    *, data: dict[str, Any], edition: str, redactor: Redactor, table_rows: int
) -> dict[str, Any]:
    """The sections of the report for one edition (see the module docstring)."""
    source = Source(data, edition, redactor, table_rows)
    case = data["case"]
    damages = damages_section(source)
    context = {
        "meta": {
            "reference": case["reference"],
            "title": redactor.text(case["title"], field_name="case title"),
            "respondent": case["respondent"],
            "edition": edition,
            "edition_label": EDITION_LABELS[edition],
            "legend": legend(edition, privileged=case["privileged"]),
            "snapshot_schema": data["schema"],
            "ledger": data["ledger"],
            "case_status": case["status"],
            "opened_at": moment(case["opened_at"]),
            "window": source.window(),
            "public": redactor.public,
            "counsel": redactor.counsel,
        },
        "parties": parties_section(source),
        "formation": formation_section(source),
        "clauses": clauses_section(source),
        "elements": elements_section(source),
        "chronology": chronology_section(source),
        "methodology": methodology_section(source),
        "methods_census": methods_census_section(source),
        "statistics": statistics_section(source),
        "output_use": output_use_section(source),
        "damages": damages,
        "countermeasures": countermeasures_section(source),
        "preservation": preservation_section(source),
        # The exhibit index, filled in once the exhibits are written (`pipeline`); empty
        # until then, so a citation reads "not in this edition" rather than a number.
        "exhibits": [],
    }
    context["summary"] = summary_section(source, context)
    return context
