"""Section 2 of the report: the executive summary, its figures and findings."""

from __future__ import annotations

from collections import Counter
from typing import Any

from casework.reports.sections.formatting import BASIS_LABELS, day, moment, n, ratio
from casework.reports.sections.source import Source
from casework.reports.snapshot import attribution_kinds

SUMMARY_CLUSTERS = 5


def summary_section(source: Source, context) -> dict[str, Any]:
    data = source.data
    totals = data["usage"]["totals"]
    accounts = data["accounts"]
    detection = data["detection"]
    figures = [
        ("Accounts attributed to the respondent", n(len(accounts))),
        ("Conduct period (first to last request)",
         f"{day(totals['first_ts'])} to {day(totals['last_ts'])}"),
        ("API requests", n(totals["requests"])),
        ("Input tokens", n(totals["input_tokens"])),
        ("Output tokens received", n(totals["output_tokens"])),
        ("Damages at list prices (section 9)",
         context["damages"]["headline"]),
        ("Accounts with no assent record", n(context["formation"]["gaps_total"])),
        ("Clauses alleged to be breached", n(len(data["allegations"]))),
    ]  # fmt: skip
    statements = []
    if accounts:
        statements.append(_attribution_statement(accounts, data["case"]["respondent"]))
    else:
        statements.append("No account has been attributed to the respondent yet.")
    if totals["requests"]:
        statements.append(
            f"Between {day(totals['first_ts'])} and {day(totals['last_ts'])} they sent "
            f"{n(totals['requests'])} API requests and received {n(totals['output_tokens'])} "
            f"output tokens{context['damages']['worth']}."
        )
    else:
        statements.append("The record holds no usage by the attributed accounts.")
    findings = []
    names = source.detector_names()
    if detection:
        fired_accounts = sum(1 for a in accounts if a["signals"])
        statements.append(
            f"Detection run {detection['run']['id']} (finished "
            f"{moment(detection['run']['finished_at'])}) measured the accounts against "
            f"their plan cohorts: {n(fired_accounts)} of {n(len(accounts))} fired at least "
            "one signal."
        )
        for f in detection["findings"]:
            findings.append(
                {
                    "detector": names.get(f["detector"], f["detector"]),
                    "code": f["detector"],
                    "fired": n(f["fired"]),
                    "measured": n(f["measured"]),
                    # One basis for every column: the accounts the detector fired on
                    # (issue #18: the table mixed fired-only and all-account medians).
                    "median_value": ratio(f["median_fired_value"]),
                    "cohort_median": ratio(f["median_cohort_median"]),
                    "percentile": ratio(f.get("median_fired_percentile")),
                }
            )
        for cluster in detection["clusters"][:SUMMARY_CLUSTERS]:
            statements.append(
                f"Detected cluster {_group_key(source, cluster['id'])} ({cluster['band']}, "
                f"score {cluster['score']:.0f}): {n(cluster['members_in_case'])} of its "
                f"{n(cluster['size'])} accounts are in this case."
            )
        if len(detection["clusters"]) > SUMMARY_CLUSTERS:
            statements.append(
                f"The accounts fall in {n(len(detection['clusters']))} detected clusters in "
                "all (section 3)."
            )
    else:
        statements.append(
            "No detection run has been recorded: the report states no findings, and the "
            "attribution rests on the bases listed in section 3."
        )
    gaps = context["formation"]["gaps_total"]
    if gaps:
        statements.append(
            f"{n(gaps)} attributed accounts have no record of accepting any Terms version; "
            "they are listed as a gap in section 4, not left out."
        )
    verification = data["verification"]
    if verification is None:
        statements.append("No verification of the record has been run (see section 11).")
    elif verification["ok"]:
        statements.append(
            f"The record verified intact on {moment(verification['finished_at'])} "
            f"(verification run {verification['id']})."
        )
    else:
        statements.append(
            f"Verification run {verification['id']} found "
            f"{n(verification['failures_total'])} failures (see section 11)."
        )
    return {"figures": figures, "statements": statements, "findings": findings}


def _attribution_statement(accounts, respondent: str) -> str:
    """How many accounts are attributed, and on which bases: every basis an account rests
    on is counted, not only the first given. A second basis (the respondent's admission
    after the detected cluster) is independent proof of the same attribution, and a summary
    that drops it understates the case the record supports."""
    kinds = [attribution_kinds(a) for a in accounts]
    bases = Counter(kind for each in kinds for kind in each)
    several = sum(1 for each in kinds if len(each) > 1)
    counted = "; ".join(
        f"{BASIS_LABELS.get(b, b).lower()}: {n(c)}" for b, c in sorted(bases.items())
    )
    if several:
        counted += f"; {n(several)} of them rest on more than one basis and are counted under each"
    return f"{n(len(accounts))} accounts are attributed to {respondent} ({counted})."


def _group_key(source: Source, cluster_id) -> str:
    for group in source.data["groups"]:
        if group["cluster_id"] == cluster_id:
            return group["key"]
    return "—"
