"""Section 7's account of the methods as run: every detector of the detection run (those
that found nothing say so: leaving a null result out would overstate the rest), the code
each ran, the lexicons, the baseline population, and the definition of the cluster score
and bands, taken from the constants the code applies."""

from __future__ import annotations

from typing import Any

from casework.reports.sections.formatting import n
from casework.reports.sections.source import Source


def methods_census_section(source: Source) -> dict[str, Any] | None:
    detection = source.data["detection"]
    census = (detection or {}).get("census")
    if census is None:
        return None
    ran = []
    for d in census["ran"]:
        results = d["results"]
        if d["kind"] == "link":
            found = f"{n(results['links'])} link{'s' * (results['links'] != 1)}"
        else:
            found = (
                f"fired on {n(results['accounts_fired'])} of "
                f"{n(results['accounts_measured'])} accounts measured"
            )
        ran.append(
            {
                "name": d["name"],
                "code": d["code"],
                "kind": "link" if d["kind"] == "link" else "signal",
                "version": d["version_run"],
                "code_sha256": d.get("code_sha256", "not in this version of Pacta"),
                "found": found,
                "outcome": d["outcome"],
            }
        )
    score = census["cluster_score"]
    return {
        "ran": ran,
        "null_results": sum(1 for d in ran if d["outcome"] == "ran, found nothing"),
        "score": {
            "formula": score["formula"],
            "campaign": score["campaign_formula"],
            "levels": sorted(score["conduct_levels"].items()),
            "concealed": score["concealed"],
            "circumvention": ", ".join(score["circumvention_links"]),
            "bands": score["bands"],
        },
        "lexicons": census["lexicons"],
        "baseline_kept": bool(census["measurements"]),
    }
