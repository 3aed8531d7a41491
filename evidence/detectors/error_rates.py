"""Error rates a detection run measures on itself: on the accounts investigators confirmed,
and on the population it examined. Stored in the run's counts (`error_rates`), shown
wherever the methodology is.

A methodology that quotes only error rates from generated worlds invites the question "and
on real customers?". So each run states, in numbers of its own: how many accounts
investigators confirmed benign it nevertheless put in a critical or high cluster (false
accusations), how many confirmed abusive it put there (detection), which accounts the run
and the investigators disagree on; and, for everyone, the share of its population it
banded and how common each kind of link was among that population, so a reader weighs
a link against how often it occurs, not against a constant.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from evidence.custody.canonical import utc_iso
from evidence.detectors.activity import Activity
from evidence.detectors.clusters import ClusterResult, Conduct
from evidence.detectors.link_base import FoundLink
from evidence.labels import Verdict, labels_current
from evidence.models import Band

FLAGGED = (Band.CRITICAL, Band.HIGH)
# The run's counts go into its ledger entry: the disagreements kept there are capped, and
# the total says how many there were.
DISAGREEMENTS_KEPT = 200
# 95% two-sided: the confidence a court usually hears stated.
Z95 = 1.959964


def error_rates_measure(
    *,
    activity: Activity,
    conduct: dict[str, Conduct],
    clustered: list[ClusterResult],
    links: list[FoundLink],
) -> dict[str, Any]:
    """What the run did to its population and to the confirmed accounts in it.

    The population is the accounts active in the run's window; labelled accounts outside
    it are counted, not measured (the run had nothing of theirs to judge). The labels are
    the verdicts in force in the run's snapshot (`evidence.labels.labels_current`).
    """
    active = set(activity.accounts)
    band_of: dict[str, str] = {}
    for cluster in clustered:
        for account_id in cluster.accounts:
            band_of[account_id] = cluster.band
    population = {
        "accounts": len(active),
        "critical_high": sum(band_of.get(a) in FLAGGED for a in active),
        "review": sum(band_of.get(a) == Band.REVIEW for a in active),
        "pairs": len(active) * (len(active) - 1) // 2,
    }
    fired: dict[str, int] = defaultdict(int)
    for account_id in active:
        own = conduct.get(account_id)
        for code in (*own.extraction, *own.other) if own else ():
            fired[code] += 1
    return {
        "population": population,
        "signals": {code: {"fired": fired[code]} for code in sorted(fired)},
        "links": _links_by_kind(links),
        "labels": _on_labels(active, band_of),
    }


def _links_by_kind(links: Iterable[FoundLink]) -> dict[str, dict[str, Any]]:
    """Per kind of link: how many links, of which strength, and how many accounts they touch."""
    count: dict[str, int] = defaultdict(int)
    strengths: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    touched: dict[str, set[str]] = defaultdict(set)
    for link in links:
        count[link.kind] += 1
        strengths[link.kind][link.strength] += 1
        touched[link.kind].update(link.pair)
    return {
        kind: {
            "links": count[kind],
            "by_strength": dict(sorted(strengths[kind].items())),
            "accounts": len(touched[kind]),
        }
        for kind in sorted(count)
    }


def _on_labels(active: set[str], band_of: dict[str, str]) -> dict[str, Any]:
    verdicts = {
        account_id: (verdict, created_at)
        for account_id, verdict, created_at in labels_current().values_list(
            "account__account_id", "verdict", "created_at"
        )
    }
    measured = {a: v for a, (v, _) in verdicts.items() if a in active}
    outcome: dict[str, dict[str, int]] = {
        verdict: {"n": 0, "critical_high": 0, "review": 0} for verdict in Verdict.values
    }
    disagreements = []
    for account_id in sorted(measured):
        verdict, band = measured[account_id], band_of.get(account_id, Band.NONE)
        outcome[verdict]["n"] += 1
        outcome[verdict]["critical_high"] += band in FLAGGED
        outcome[verdict]["review"] += band == Band.REVIEW
        if (verdict == Verdict.CONFIRMED_BENIGN) == (band in FLAGGED):
            disagreements.append({"account": account_id, "verdict": verdict, "band": band})
    for figures in outcome.values():
        figures["interval_95"] = wilson_interval(figures["critical_high"], figures["n"])
    return {
        "in_force": len(verdicts),
        "latest_at": utc_iso(max(at for _, at in verdicts.values())) if verdicts else None,
        "outside_run": len(verdicts) - len(measured),
        "benign": outcome[Verdict.CONFIRMED_BENIGN],
        "abusive": outcome[Verdict.CONFIRMED_ABUSIVE],
        "disagreements": disagreements[:DISAGREEMENTS_KEPT],
        "disagreements_total": len(disagreements),
    }


def wilson_interval(k: int, n: int) -> list[float] | None:
    """The 95% Wilson score interval of k successes in n, as fractions (None when n is 0).

    Unlike k/n plus or minus a margin, it stays inside 0-1 and says something when k is 0:
    no false accusation among 30 confirmed-benign accounts still allows a rate up to 11%.
    """
    if n == 0:
        return None
    p = k / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)]


# --- in words ------------------------------------------------------------------------------

NO_LABELS = "No confirmed labels yet: the error rate on confirmed cases cannot be stated."


def percent(part: int | float, whole: int | float) -> str:
    """A share as a reader reads it, small ones with two significant digits (0.0042%)."""
    if not whole:
        return "—"
    value = 100 * part / whole
    if value == 0 or value >= 1:
        return f"{value:.1f}%"
    digits = 1 - math.floor(math.log10(value))
    return f"{value:.{digits}f}%"


def _interval(figures: dict[str, Any]) -> str:
    low, high = figures["interval_95"]
    return f"95% confidence interval {percent(low, 1)} to {percent(high, 1)}"


def rate_words(part: int, whole: int) -> str:
    """A measured rate with its 95% Wilson interval: "25.0%; 95% confidence interval 10.2%
    to 49.5%" (issue #18: a rate is stated with its uncertainty, not as a bare share)."""
    if not whole:
        return "—"
    return f"{percent(part, whole)}; {_interval({'interval_95': wilson_interval(part, whole)})}"


def _accounts(count: int) -> str:
    return f"{count:,} account" + ("" if count == 1 else "s")


def population_statements(rates: dict[str, Any] | None) -> list[str]:
    """The run's base rates in words: what share of its population it banded."""
    if not rates:
        return ["This run did not measure its error rates (it predates the measurement)."]
    population = rates["population"]
    total = population["accounts"]
    return [
        f"Measured on this run's population of {_accounts(total)} active in its window: "
        f"{population['critical_high']:,} ({rate_words(population['critical_high'], total)}) "
        f"were put in a critical or high cluster, and {population['review']:,} "
        f"({rate_words(population['review'], total)}) in review."
    ]


def label_statements(rates: dict[str, Any] | None, *, with_accounts: bool) -> list[str]:
    """The run against investigators' verdicts in words; `with_accounts` names the
    accounts they disagree on (for investigators; a report gives only their number)."""
    if not rates:
        return []
    labels = rates["labels"]
    if not labels["in_force"]:
        return [NO_LABELS]
    lines = [
        f"Measured on the {labels['in_force']:,} verdicts investigators had confirmed when "
        f"the run started (the latest given {labels['latest_at'][:16].replace('T', ' ')} UTC)"
        + (
            f"; {_accounts(labels['outside_run'])} among them had no activity in the window "
            "and were not measured."
            if labels["outside_run"]
            else "."
        )
    ]
    benign, abusive = labels["benign"], labels["abusive"]
    if benign["n"]:
        lines.append(
            f"False accusations on confirmed cases: of the {_accounts(benign['n'])} "
            f"confirmed benign, the run put {benign['critical_high']:,} "
            f"({percent(benign['critical_high'], benign['n'])}; {_interval(benign)}) in a "
            f"critical or high cluster, and {benign['review']:,} in review."
        )
    else:
        lines.append(
            "No account confirmed benign was active in the window: the false-accusation "
            "rate on confirmed cases cannot be stated for this run."
        )
    if abusive["n"]:
        missed = abusive["n"] - abusive["critical_high"]
        lines.append(
            f"Detection on confirmed cases: of the {_accounts(abusive['n'])} confirmed "
            f"abusive, the run put {abusive['critical_high']:,} "
            f"({percent(abusive['critical_high'], abusive['n'])}; {_interval(abusive)}) in a "
            f"critical or high cluster; it missed {missed:,} ({abusive['review']:,} of them "
            "put in review)."
        )
    else:
        lines.append(
            "No account confirmed abusive was active in the window: the detection rate on "
            "confirmed cases cannot be stated for this run."
        )
    total = labels["disagreements_total"]
    if not total:
        lines.append("The run and the investigators agree on every confirmed account.")
    elif not with_accounts:
        lines.append(
            f"The run and the investigators disagree on {_accounts(total)}; the accounts "
            "are named for investigators on the detection run's clusters page, not here."
        )
    else:
        listed = "; ".join(
            f"{row['account']} ({Verdict(row['verdict']).label.lower()}, put in "
            f"{Band(row['band']).label.lower()})"
            for row in labels["disagreements"]
        )
        more = total - len(labels["disagreements"])
        lines.append(
            f"The run and the investigators disagree on {_accounts(total)}: {listed}"
            + (f"; and {more:,} more." if more else ".")
        )
    return lines


def link_statement(rates: dict[str, Any] | None, kind: str) -> str:
    """How common one kind of link was in the run's population, in words."""
    if not rates:
        return "Not measured by this run."
    population = rates["population"]
    figures = rates["links"].get(kind)
    if not figures:
        return f"Found between no two of the {_accounts(population['accounts'])} this run examined."
    strengths = ", ".join(f"{n:,} {s}" for s, n in figures["by_strength"].items())
    return (
        f"{figures['links']:,} links ({strengths}) touching {_accounts(figures['accounts'])}: "
        f"{rate_words(figures['accounts'], population['accounts'])}, of the "
        f"{population['accounts']:,} accounts this run examined, and "
        f"{percent(figures['links'], population['pairs'])} of their "
        f"{population['pairs']:,} possible pairs."
    )


def signal_statement(rates: dict[str, Any] | None, code: str) -> str:
    """How often one signal fired in the run's population, in words."""
    if not rates:
        return "Not measured by this run."
    total = rates["population"]["accounts"]
    fired = rates["signals"].get(code, {}).get("fired", 0)
    return (
        f"Fired for {_accounts(fired)}: {rate_words(fired, total)}, of the {total:,} "
        "accounts this run examined."
    )


def detector_statement(rates: dict[str, Any] | None, code: str, kind: str) -> str:
    """How common a detector's finding (`kind` "signal" or "link") was in the run's
    population."""
    return link_statement(rates, code) if kind == "link" else signal_statement(rates, code)
