"""Exhibits that let the other side reproduce the analysis: the detectors that ran (every
one, null results included) with their versions, code hashes and parameters, the lexicons
they read, and the methods appendix as JSON (FRE 702: the method must be testable, so its
every input is produced)."""

from __future__ import annotations

import json
from typing import Any

from casework.reports.exhibit_files import ExhibitSet
from evidence.detectors.census import lexicon_files

METHODS_SCHEMA = "pacta.report.methods/1"


def methods_exhibits_write(exhibits: ExhibitSet, data) -> None:
    detection = data["detection"]
    census = (detection or {}).get("census")
    if census is None:
        return  # no detection run, or a snapshot made before runs were censused
    _detectors(exhibits, detection["run"]["id"], census["ran"])
    for lexicon in census["lexicons"]:
        _lexicon(exhibits, lexicon)
    exhibits.json(
        "methods.json",
        "Methods appendix",
        "The detection methods as data: every detector of the run with its version, code "
        "hash, parameters and result counts, the cluster score and band cut-offs, and the "
        "lexicons' hashes (analysis).",
        methods_appendix(data),
        relationship="Supplement",
        nature="analysis",
    )


def methods_appendix(data) -> bytes:
    """Deterministic JSON: sorted keys, from the snapshot alone."""
    detection = data["detection"]
    census = detection["census"]
    appendix: dict[str, Any] = {
        "schema": METHODS_SCHEMA,
        "detection_run": {
            "id": detection["run"]["id"],
            "window_start": detection["run"]["window_start"],
            "window_end": detection["run"]["window_end"],
            "digest": detection["run"]["digest"],
            "accounts_active": detection["run"]["accounts_active"],
        },
        "detectors": census["ran"],
        "shared_modules": census["shared_modules"],
        "cluster_score": census["cluster_score"],
        "cohorts": {
            "definition": "each signal compares an account with the accounts of the same plan "
            "that it measured in the run (baseline.csv holds them)",
            "by_detector": {
                f["detector"]: {
                    "cohort_median_of_case_accounts": f["median_cohort_median"],
                    "thresholds": f["threshold"],
                }
                for f in detection["findings"]
            },
        },
        "lexicons": census["lexicons"],
        "measurements": census["measurements"],
    }
    return (json.dumps(appendix, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _detectors(exhibits: ExhibitSet, run_id: int, ran: list[dict]) -> None:
    rows = (
        [
            d["code"],
            d["name"],
            d["kind"],
            d["version_run"],
            d.get("code_sha256", ""),
            json.dumps(d.get("parameters", {}), sort_keys=True),
            d["results"].get("accounts_measured", ""),
            d["results"].get("accounts_fired", ""),
            d["results"].get("links", ""),
            d["outcome"],
        ]
        for d in ran
    )
    exhibits.rows(
        "detectors.csv",
        "Detectors that ran",
        f"Every detector of detection run {run_id}, including those that found nothing: its "
        "version as run, the SHA-256 of its code, its parameters and what it found.",
        [
            "detector",
            "name",
            "kind",
            "version",
            "code_sha256",
            "parameters",
            "accounts_measured",
            "accounts_fired",
            "links",
            "outcome",
        ],
        rows,
        nature="analysis",
    )


def _lexicon(exhibits: ExhibitSet, lexicon: dict) -> None:
    path = next(f["path"] for f in lexicon_files() if f["file"] == lexicon["file"])
    payload = path.read_bytes()
    exhibit = exhibits.json(
        lexicon["file"],
        f"Lexicon {lexicon['name']} (version {lexicon['version']})",
        f"The phrase list the {lexicon['name']} signal matched prompts against, byte for byte "
        "as the detectors read it.",
        payload,
        relationship="Supplement",
        nature="analysis",
    )
    if exhibit.sha256 != lexicon["sha256"]:
        raise ValueError(
            f"{lexicon['file']} has changed since the snapshot (SHA-256 {exhibit.sha256}, "
            f"snapshot {lexicon['sha256']}); request a new report"
        )
