"""Section 8 of the report: use of the outputs, the evidence that the respondent's model was
built on what the accounts harvested (identity claims, canaries, output overlap).

Attribution and breach show the accounts took the outputs; this section shows the outputs
went into the rival model, with each statistic's method, its controls and what it cannot
show. The public edition gives the figures, the methods and the exhibit ids only: no
account ids (pseudonyms for the case's accounts, a count for others), and no prompt,
response or canary text.
"""

from __future__ import annotations

from typing import Any

from casework.reports.sections.formatting import n
from casework.reports.sections.source import Source

LIMITS = (
    "A claim of the provider's identity shows the target's training data held that claim, "
    "which the provider's outputs carry; it does not show whose outputs, or how many. The "
    "control targets' rate on the same prompts is the rate reading about the provider "
    "alone produces.",
    "A canary match ties the target to the accounts the canary was served to, and only "
    "to them: it does not show that those accounts alone supplied the outputs, nor when "
    "the target was trained on them. The chance of coincidence stated for each match "
    "assumes independent words; the canaries' coined words occurred nowhere in the record "
    "when they were generated.",
    "Output overlap is measured only against the served text the record holds for a "
    "prompt (the canaries logged in the answering requests): the provider's answers "
    "themselves are not kept, so overlap elsewhere in an answer is not measured.",
    "Probes were collected outside Pacta by the investigators named in each transcript; "
    "the transcripts are as received, hashed on ingest, and a target's answers can vary "
    "between runs of the same prompt.",
)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _interval(interval: list[float] | None) -> str:
    return "—" if not interval else f"{_percent(interval[0])} to {_percent(interval[1])}"


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.2g}"


def _accounts(source: Source, account_ids: list[str]) -> str:
    """The accounts a canary was served to, as this edition may name them."""
    where = "use of the outputs"
    if not source.redactor.public:
        return ", ".join(source.redactor.account(a, where=where) for a in account_ids)
    # The public edition names only the case's own accounts (by their pseudonyms) and
    # counts the others, which the public record has no reason to know of.
    in_case = {a["account_id"] for a in source.data["accounts"]}
    named = [source.redactor.account(a, where=where) for a in account_ids if a in in_case]
    others = len(account_ids) - len(named)
    if others:
        source.redactor.log.note("account id", "removed", where="use of the outputs", count=others)
        named.append(f"{others} account{'s' if others > 1 else ''} outside the case")
    return ", ".join(named)


def _quote(source: Source, text: str) -> str:
    """A response or canary passage: counsel and regulator read it, the public edition not."""
    if source.redactor.public:
        source.redactor.log.note("response text", "removed", where="use of the outputs")
        return ""
    return source.redactor.text(text, field_name="response text")


def _claim_row(target: dict, measured: dict, *, control: bool) -> dict[str, str]:
    """One target's row; a suspect target's carries its controls' figures on its prompts."""
    comparison = target.get("comparison") or {}
    against = {
        "controls": ", ".join(comparison.get("control_targets", []))
        or ("" if control else "none asked the same prompts"),
        "control_n": n(comparison.get("n")) if comparison else "",
        "control_claims": n(comparison.get("claims")) if comparison else "",
        "control_rate": _percent(comparison.get("rate")) if comparison else "",
        "control_interval": _interval(comparison.get("interval_95")) if comparison else "",
        "p": _p(comparison.get("fisher_p_greater")) if comparison else "",
    }
    return {
        "target": target["target"] + (" (control)" if control else ""),
        "versions": ", ".join(target["versions"]) or "—",
        "names": ", ".join(measured["names"]),
        "n": n(target["n"]),
        "claims": n(target["claims"]),
        "rate": _percent(target["rate"]),
        "interval": _interval(target["interval_95"]),
        **against,
        "patterns_sha256": measured["patterns_sha256"],
    }


def _claims(source: Source, claims: list[dict]) -> tuple[list[dict], list[dict], list[str]]:
    rows, exhibits, methods = [], [], []
    for measured in claims:
        methods.append(measured["detector"]["methodology"]["definition"])
        for target in measured["targets"]:
            rows.append(_claim_row(target, measured, control=False))
            exhibits += [
                {
                    "probe_id": exhibit["probe_id"],
                    "target": target["target"],
                    "language": exhibit["language"],
                    "quote": _quote(source, exhibit["quote"]),
                }
                for exhibit in target["exhibits"]
            ]
        rows += [_claim_row(c, measured, control=True) for c in measured["controls"]]
    return rows, exhibits, methods


def _overlap(overlap: dict | None) -> dict[str, Any] | None:
    if overlap is None:
        return None
    rows = []
    for target in overlap["targets"]:
        comparison = target["comparison"] or {}
        rows.append(
            {
                "target": target["target"] + (" (control)" if target["control"] else ""),
                "probes": n(target["probes"]),
                "answered": n(target["answered"]),
                "measured": n(target["measured"]),
                "overlapping": n(target["overlapping"]),
                "rate": _percent(target["rate"]),
                "interval": _interval(target["interval_95"]),
                "mean": _percent(target["mean_containment"]),
                "control_rate": _percent(comparison.get("rate")) if comparison else "",
                "p": _p(comparison.get("fisher_p_greater")) if comparison else "",
                "probe_ids": ", ".join(e["probe_id"] for e in target["exhibits"]),
            }
        )
    return {
        "rows": rows,
        "method": overlap["method"]["statement"],
        "provider_text": overlap["method"]["provider_text"],
        "prompts": (
            f"{n(overlap['prompts_probed'])} prompts probed, {n(overlap['prompts_answered'])} "
            f"answered by the provider, {n(overlap['prompts_with_served_text'])} with served "
            "text on record"
        ),
    }


def output_use_section(source: Source) -> dict[str, Any]:
    use = source.data.get("output_use")
    if not use:
        return {"attached": False}
    claims, claim_exhibits, claim_methods = _claims(source, use["claims"])
    matches = [
        {
            "canary_id": m["canary_id"],
            "canary_sha256": m["canary_sha256"],
            "canary_text": _quote(source, m["canary_text"]),
            "probe_id": m["probe_id"],
            "target": m["target"],
            "accounts": _accounts(source, m["accounts"]),
            "serves": n(m["serves"]),
            "chance": f"{m['chance']:.2g}",
            "quote": _quote(source, m["quote"]),
        }
        for m in use["matches"]
    ]
    probe_ids = sorted(
        {e["probe_id"] for e in claim_exhibits}
        | {m["probe_id"] for m in use["matches"]}
        | {e["probe_id"] for t in (use["overlap"] or {}).get("targets", []) for e in t["exhibits"]}
    )
    return {
        "attached": True,
        "batches": [
            {
                "id": b["id"],
                "file_name": b["file_name"],
                "raw_sha256": b["raw_sha256"],
                "probes": n(b["probes"]),
                "targets": ", ".join(b["targets"]) or "—",
                "controls": ", ".join(b["controls"]) or "—",
            }
            for b in use["batches"]
        ],
        "claims": claims,
        "claim_exhibits": claim_exhibits,
        "claim_methods": claim_methods,
        "matches": matches,
        "canary_method": use["canary_method"],
        "overlap": _overlap(use["overlap"]),
        "limits": LIMITS,
        "exhibits": {
            "probes": probe_ids,
            "canaries": sorted({m["canary_id"] for m in use["matches"]}),
        },
    }
