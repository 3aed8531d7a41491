"""Section 5 of the report: the clauses breached, each with the findings that support it."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from casework.case_rules import allegation_supports
from casework.reports.sections.formatting import CATEGORY_LABELS
from casework.reports.sections.source import Source


def clauses_section(source: Source) -> list[dict[str, Any]]:
    detection = source.data["detection"] or {}
    summary = detection.get("findings", [])
    fired = {f["detector"]: f["fired"] for f in summary}
    measured = {f["detector"]: f["measured"] for f in summary}
    links = Counter()
    for row in detection.get("links", []):
        links[row["kind"]] += row["links"]
    top = defaultdict(list)
    for row in detection.get("top_findings", []):
        top[row["detector"]].append(row)
    result = []
    for allegation in source.data["allegations"]:
        clause = allegation["clause"]
        supports = allegation_supports(
            category=clause["category"],
            detectors=detection.get("detectors", []),
            fired=fired,
            measured=measured,
            links=links,
        )
        supporting = [
            {
                "name": support.name,
                "what": support.what,
                "examples": []
                if support.kind == "link"
                else [
                    {
                        "account": source.account_name(row["account_id"]),
                        "text": source.redactor.text(row["explanation"], field_name="finding"),
                    }
                    for row in top.get(support.code, [])
                ],
            }
            for support in supports
        ]
        versions = []
        by_version = {v["version"]: v for v in allegation["clause_versions"]}
        for v in source.in_force(allegation["document_versions"]):
            match = by_version.get(v["version"])
            versions.append(
                {
                    "version": v["version"],
                    "effective_date": v["effective_date"],
                    "until": v["until"] or "still in force",
                    "state": (
                        "the same text"
                        if match and match["same_text"]
                        else "different text"
                        if match
                        else "no clause at this path"
                    ),
                }
            )
        result.append(
            {
                "path": clause["path"],
                "heading": clause["heading"],
                "text": clause["text"],
                "sha256": clause["text_sha256"],
                "document_title": clause["document_title"],
                "document": clause["document"],
                "version": clause["version"],
                "effective_date": clause["effective_date"],
                "category": CATEGORY_LABELS.get(clause["category"], clause["category"]),
                "theory": source.redactor.text(allegation["theory"], field_name="allegation"),
                "supporting": supporting,
                "versions": versions,
                "files": [
                    {
                        "name": source.redactor.text(f["file_name"], field_name="file name"),
                        "sha256": f["sha256"],
                        "kind": f["kind"],
                    }
                    for f in allegation["supporting_evidence"]
                ],
            }
        )
    return result
