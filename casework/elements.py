"""The elements checklist: for each allegation, which element of the claim the record
supports and which it does not, with the exhibit rows behind each, and the flags a
respondent's counsel would raise first.

A contract claim fails on its weakest element, so the checklist shows the unsupported ones
beside the supported ones, never leaving them out. One rule for the case page, the REST API
and the signed report: it reads plain data in the report snapshot's shapes ("facts"), which
the report takes from its frozen snapshot (`facts_from_snapshot`) and the page and the API
gather live (`casework.elements_live`), so the screen and the PDF cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Any

from casework.case_rules import allegation_supports
from casework.damages_rules import damages_figures, damages_for_elements
from evidence.models import ClauseCategory

SUPPORTED = "supported"
PARTIAL = "partial"
NOT_SUPPORTED = "not_supported"
STATUS_LABELS = {
    SUPPORTED: "Supported",
    PARTIAL: "Partly supported",
    NOT_SUPPORTED: "Not supported",
}
ELEMENTS = (
    ("formation", "Formation"),
    ("version", "Version in force"),
    ("conduct", "Conduct"),
    ("attribution", "Attribution to the respondent"),
    ("use", "Causation / use of the outputs"),
    ("damages", "Damages"),
)
# How many row keys (account ids, detector codes) a reference names; the count is always
# the whole, and the exhibit holds every row.
KEYS_SHOWN = 20
# Two theories this alike (after case, spacing and punctuation are set aside) are one text
# copied: a court reads a "conduct" paragraph pasted under a second clause as no conduct
# shown for it at all.
DUPLICATE_SIMILARITY = 0.9
CATEGORY_LABELS = dict(ClauseCategory.choices)


@dataclass
class Reference:
    """Exhibit rows behind an element: the exhibit (by its file name in the counsel
    edition), how many rows, which column keys them and the first keys; or a report
    section when the support is a statement of the report rather than rows."""

    exhibit: str | None
    what: str
    rows: int | None = None
    key: str = ""
    keys: list[str] = field(default_factory=list)
    section: str = ""


@dataclass
class Element:
    key: str
    label: str
    status: str
    statement: str
    references: list[Reference] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class Flag:
    code: str
    label: str
    statement: str
    accounts: list[str] = field(default_factory=list)
    accounts_total: int = 0


def as_data(value) -> Any:
    """An element, flag or checklist as JSON-native data (the API's and report's shape)."""
    if isinstance(value, Element):
        return {**asdict(value), "status_label": value.status_label}
    if isinstance(value, list):
        return [as_data(v) for v in value]
    if isinstance(value, dict):
        return {k: as_data(v) for k, v in value.items()}
    if isinstance(value, Flag | Reference):
        return asdict(value)
    return value


def _day(instant: str | None) -> str | None:
    return instant[:10] if instant else None


def _keys(values: Iterable[str]) -> list[str]:
    return sorted(values)[:KEYS_SHOWN]


def _counted(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def versions_in_force(versions: list[dict], first: str | None, last: str | None) -> list[dict]:
    """The versions of one document in force at some moment between the days `first` and
    `last` (ISO dates), each with `until` (the next version's effective date, or None).
    A version governs from its effective date until the next one takes effect."""
    ordered = sorted(versions, key=lambda v: v["effective_date"])
    result = []
    if first is None or last is None:
        return result
    for i, version in enumerate(ordered):
        start = version["effective_date"]
        end = ordered[i + 1]["effective_date"] if i + 1 < len(ordered) else None
        if start <= last and (end is None or end > first):
            result.append({**version, "until": end})
    return result


# --- The facts, from the snapshot -----------------------------------------------------------


def facts_from_snapshot(data: Mapping[str, Any]) -> dict[str, Any]:
    """The checklist's facts as the report's frozen snapshot holds them."""
    totals = data["usage"]["totals"]
    return {
        "allegations": data["allegations"],
        "accounts": data["accounts"],
        "terms": data["terms"],
        "conduct": {
            "first_ts": totals["first_ts"],
            "last_ts": totals["last_ts"],
            "requests": totals["requests"],
            "throttled": totals["throttled"],
        },
        "detection": data["detection"],
        "plan_limits": data["limits"]["plan_limits"],
        "output_use": data.get("output_use"),
        "damages": damages_for_elements(damages_figures(dict(data))),
    }


# --- The elements -----------------------------------------------------------------------


def _formation(allegation, accounts, effective: dict[tuple[str, str], str]) -> Element:
    clause = allegation["clause"]
    document = clause["document"]
    # Assent to any version carrying the alleged text at this path is assent to the term.
    carrying = {v["version"] for v in allegation["clause_versions"] if v["same_text"]}
    carrying.add(clause["version"])
    valid, early, other = {}, set(), set()
    for account in accounts:
        for record in account["assent"]:
            if record["terms"] != document:
                continue
            if record["version"] not in carrying:
                other.add(account["account_id"])
                continue
            took_effect = effective.get((document, record["version"]))
            if took_effect and _day(record["accepted_at"]) < took_effect:
                early.add(account["account_id"])
                continue
            valid.setdefault(account["account_id"], 0)
            valid[account["account_id"]] += 1
    total = len(accounts)
    versions = ", ".join(sorted(carrying))
    references = []
    if valid:
        references.append(
            Reference(
                exhibit="assent.csv",
                what=f"records of accepting {document} version {versions}",
                rows=sum(valid.values()),
                key="account_id",
                keys=_keys(valid),
            )
        )
    if not total:
        return Element("formation", "Formation", NOT_SUPPORTED, "No account is attributed.")
    missing = total - len(valid)
    if not missing:
        return Element(
            "formation",
            "Formation",
            SUPPORTED,
            ("The attributed account" if total == 1 else f"Every one of the {total:,} accounts")
            + f" accepted {document} version {versions}, on or after its effective date.",
            references,
        )
    why = []
    if early - set(valid):
        why.append(f"{len(early - set(valid)):,} accepted it only before it took effect")
    if other - set(valid) - early:
        why.append(f"{len(other - set(valid) - early):,} accepted only versions with other text")
    bare = missing - len((early | other) - set(valid))
    if bare:
        why.append(
            f"{bare:,} ha{'s' if bare == 1 else 've'} no record of accepting {document} at all"
        )
    status = PARTIAL if valid else NOT_SUPPORTED
    return Element(
        "formation",
        "Formation",
        status,
        f"{len(valid):,} of {_counted(total, 'attributed account')} accepted {document} "
        f"version {versions} on or after its effective date; {'; '.join(why)}.",
        references,
    )


def _version(allegation, conduct) -> Element:
    clause = allegation["clause"]
    label = "Version in force"
    first, last = _day(conduct["first_ts"]), _day(conduct["last_ts"])
    stated = (
        f"{clause['document']} version {clause['version']} (effective {clause['effective_date']})"
    )
    terms_ref = Reference(
        exhibit=None,
        what=f"{stated}, text SHA-256 {clause['version_sha256']}",
        section="Contract formation: Terms versions",
    )
    if first is None:
        return Element(
            "version",
            label,
            NOT_SUPPORTED,
            "No usage by the attributed accounts in the case window: the conduct period is "
            "unknown, so no version can be shown in force during it.",
            [terms_ref],
        )
    usage_ref = Reference(
        exhibit="usage.csv",
        what=f"requests from {first} to {last}, the conduct period",
        rows=conduct["requests"],
    )
    same = {v["version"] for v in allegation["clause_versions"] if v["same_text"]}
    same.add(clause["version"])
    in_force = versions_in_force(allegation["document_versions"], first, last)
    carrying = [v for v in in_force if v["version"] in same]
    lacking = [v for v in in_force if v["version"] not in same]
    if in_force and not lacking:
        return Element(
            "version",
            label,
            SUPPORTED,
            f"The alleged text of §{clause['path']} was in force throughout the conduct "
            f"({first} to {last}): "
            + "; ".join(
                f"version {v['version']} from {v['effective_date']}"
                f"{' until ' + v['until'] if v['until'] else ''}"
                for v in carrying
            )
            + ".",
            [terms_ref, usage_ref],
        )
    if carrying:
        return Element(
            "version",
            label,
            PARTIAL,
            f"The alleged text of §{clause['path']} was in force for only part of the conduct "
            f"({first} to {last}): version "
            + ", ".join(v["version"] for v in lacking)
            + " also governed it with other text or none at this path.",
            [terms_ref, usage_ref],
        )
    return Element(
        "version",
        label,
        NOT_SUPPORTED,
        f"{stated} was not in force at any time of the conduct ({first} to {last}).",
        [terms_ref, usage_ref],
    )


def _conduct(allegation, detection) -> tuple[Element, str | None]:
    """The conduct element, and the reason no finding supports it (None when one does)."""
    clause = allegation["clause"]
    category = clause["category"]
    named = CATEGORY_LABELS.get(category, category)
    label = "Conduct"
    if not detection:
        reason = "No detection run covers the record, so no finding supports the conduct."
        return Element("conduct", label, NOT_SUPPORTED, reason), reason
    detectors = detection.get("detectors", [])
    fired = {f["detector"]: f["fired"] for f in detection.get("findings", [])}
    measured = {f["detector"]: f["measured"] for f in detection.get("findings", [])}
    links: dict[str, int] = {}
    for row in detection.get("links", []):
        links[row["kind"]] = links.get(row["kind"], 0) + row["links"]
    supports = allegation_supports(
        category=category, detectors=detectors, fired=fired, measured=measured, links=links
    )
    if supports:
        references = [
            Reference(
                exhibit="links.csv" if s.kind == "link" else "findings.csv",
                what=f"{s.name}: {s.what}",
                rows=s.count,
                key="kind" if s.kind == "link" else "detector",
                keys=[s.code],
            )
            for s in supports
        ]
        return Element(
            "conduct",
            label,
            SUPPORTED,
            f"{_counted(len(supports), 'detector')} bearing on {named} found the conduct "
            "among the attributed accounts.",
            references,
        ), None
    bearing = [d.get("name") or d["code"] for d in detectors if category in d.get("categories", [])]
    elsewhere = sorted(
        d.get("name") or d["code"]
        for d in detectors
        if category not in d.get("categories", [])
        and (fired.get(d["code"], 0) or links.get(d["code"], 0))
    )
    if category == ClauseCategory.UNCATEGORISED:
        reason = (
            "The clause's category is not set, so no detector bears on it: counsel must set "
            "the category before any finding can support the conduct."
        )
    elif not bearing:
        reason = (
            f"No detector bears on {named}: the conduct evidence the record holds cannot "
            "bear this clause's category."
        )
    else:
        reason = (
            f"No detector bearing on {named} ({', '.join(sorted(bearing))}) fired on the "
            "attributed accounts."
        )
    if elsewhere:
        reason += f" Those that fired bear on other categories: {', '.join(elsewhere)}."
    return Element("conduct", label, NOT_SUPPORTED, reason), reason


def _attribution(accounts, detection) -> Element:
    label = "Attribution to the respondent"
    if not accounts:
        return Element("attribution", label, NOT_SUPPORTED, "No account is attributed.")
    by_basis: dict[str, int] = {}
    unexplained = []
    for account in accounts:
        attribution = account["attribution"]
        bases = [attribution, *attribution.get("further", [])]
        for kind in dict.fromkeys(b["basis"] for b in bases):
            by_basis[kind] = by_basis.get(kind, 0) + 1
        if all(b["basis"] == "other" and not b["detail"].strip() for b in bases):
            unexplained.append(account["account_id"])
    references = [
        Reference(
            exhibit="accounts.csv",
            what="attributed accounts with their basis of attribution ("
            + ", ".join(f"{kind}: {n:,}" for kind, n in sorted(by_basis.items()))
            + ")",
            rows=len(accounts),
            key="account_id",
            keys=_keys(a["account_id"] for a in accounts),
        )
    ]
    link_rows = sum(row["links"] for row in (detection or {}).get("links", []))
    if link_rows:
        references.append(
            Reference(exhibit="links.csv", what="links touching the accounts", rows=link_rows)
        )
    if unexplained:
        return Element(
            "attribution",
            label,
            PARTIAL,
            f"{len(unexplained):,} of {_counted(len(accounts), 'attributed account')} rest on "
            'no stated basis ("other", with no detail).',
            references,
        )
    return Element(
        "attribution",
        label,
        SUPPORTED,
        f"{_counted(len(accounts), 'account')} attributed, each on a stated basis.",
        references,
    )


def _use(output_use) -> Element:
    label = "Causation / use of the outputs"
    if not output_use:
        return Element(
            "use",
            label,
            NOT_SUPPORTED,
            "No probe transcripts, identity claims or canary matches are attached to the "
            "case: nothing shows the outputs were used.",
        )
    section = "Use of the outputs"
    overlap = output_use.get("overlap") or {}
    shown = (
        (
            "canary matches: a canary served to the accounts found in the rival model",
            "canary_id",
            [m["canary_id"] for m in output_use.get("matches") or []],
        ),
        (
            "probed targets claiming the provider's model identity",
            "target",
            [
                t["target"]
                for measured in output_use.get("claims") or []
                for t in measured["targets"]
                if t.get("claims")
            ],
        ),
        (
            "probed targets whose answers reuse text served to the accounts",
            "target",
            [
                t["target"]
                for t in overlap.get("targets", [])
                if not t.get("control") and t.get("overlapping")
            ],
        ),
    )
    references = [
        Reference(
            exhibit=None,
            what=what,
            rows=len(values),
            key=key,
            keys=_keys(set(values)),
            section=section,
        )
        for what, key, values in shown
        if values
    ]
    batches = output_use.get("batches") or []
    if references:
        return Element(
            "use",
            label,
            SUPPORTED,
            "The rival model's answers show use of the outputs (canary matches, identity "
            "claims or reused text).",
            references,
        )
    return Element(
        "use",
        label,
        PARTIAL,
        f"{_counted(len(batches), 'probe batch')} attached, but no identity claim, reused "
        "text or canary match shows use of the outputs.",
        [Reference(exhibit=None, what="probe batches", rows=len(batches), section=section)],
    )


def _damages(damages) -> Element:
    label = "Damages"
    value = Decimal(damages["value"] or 0)
    usage_ref = Reference(
        exhibit="usage.csv", what="requests valued", rows=damages["requests"], section="Damages"
    )
    if not damages["requests"]:
        return Element(
            "damages",
            label,
            NOT_SUPPORTED,
            "No usage by the attributed accounts: nothing to value.",
        )
    if not damages["priced"] or not value:
        return Element(
            "damages",
            label,
            NOT_SUPPORTED,
            "Not computed: no list price is loaded for the models used, so the usage is "
            "not valued.",
            [usage_ref],
        )
    shown = f"${value.quantize(Decimal('0.01')):,}"
    if damages["unpriced"]:
        return Element(
            "damages",
            label,
            PARTIAL,
            f"{shown} at list prices, leaving out the usage of "
            f"{', '.join(damages['unpriced'])} (no list price).",
            [usage_ref],
        )
    return Element(
        "damages",
        label,
        SUPPORTED,
        f"{shown} at the provider's list prices.",
        [usage_ref],
    )


# --- The flags --------------------------------------------------------------------------


def _normalised(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def _copied(a: str, b: str) -> bool:
    a, b = _normalised(a), _normalised(b)
    if not a or not b:
        return False
    if a == b or (len(b) > 40 and b in a):
        return True
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.quick_ratio() >= DUPLICATE_SIMILARITY and matcher.ratio() >= DUPLICATE_SIMILARITY


def _duplicate_flag(allegation, others) -> Flag | None:
    """The theory repeats another allegation's theory, or copies another alleged clause."""
    for other in others:
        if other["id"] == allegation["id"]:
            continue
        where = f"§{other['clause']['path']}"
        if _copied(allegation["theory"], other["theory"]):
            return Flag(
                "theory_duplicated",
                "Conduct text copied",
                f"The conduct alleged repeats the conduct alleged under {where}: it states no "
                "conduct of its own for this clause.",
            )
        if other["clause"]["id"] != allegation["clause"]["id"] and _copied(
            allegation["theory"], other["clause"]["text"]
        ):
            return Flag(
                "theory_duplicated",
                "Conduct text copied",
                f"The conduct alleged copies the text of {where}, another clause: it states "
                "no conduct of its own for this clause.",
            )
    return None


def _case_flags(accounts, terms) -> list[Flag]:
    effective = {(t["document"], t["version"]): t["effective_date"] for t in terms}
    early: dict[str, str] = {}
    for account in accounts:
        for record in account["assent"]:
            took_effect = effective.get((record["terms"], record["version"]))
            if took_effect and _day(record["accepted_at"]) < took_effect:
                early.setdefault(
                    account["account_id"],
                    f"{record['terms']} {record['version']} accepted "
                    f"{_day(record['accepted_at'])}, effective {took_effect}",
                )
    flags = []
    if early:
        example = early[min(early)]
        flags.append(
            Flag(
                "assent_before_effective",
                "Assent before the version's effective date",
                f"{_counted(len(early), 'account')} accepted a Terms version before it took "
                f"effect (e.g. {min(early)}: {example}); such a record cannot show assent to "
                "that version as published.",
                _keys(early),
                len(early),
            )
        )
    bare = [a["account_id"] for a in accounts if not a["assent"]]
    if bare:
        flags.append(
            Flag(
                "no_assent",
                "Attributed accounts with no assent",
                f"{_counted(len(bare), 'attributed account')} ha{'s' if len(bare) == 1 else 've'} "
                "no record of accepting any Terms version: formation for them rests on other "
                "evidence.",
                _keys(bare),
                len(bare),
            )
        )
    return flags


def elements_check(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The checklist of every allegation, and the flags of the case (see the module
    docstring): `{"allegations": [{"id", "path", "category", "elements", "flags"}],
    "flags": [...]}`, elements in the order of `ELEMENTS`."""
    accounts = facts["accounts"]
    effective = {(t["document"], t["version"]): t["effective_date"] for t in facts["terms"]}
    limits_known = bool(facts["plan_limits"])
    refused = facts["conduct"]["throttled"] or 0
    result = []
    for allegation in facts["allegations"]:
        clause = allegation["clause"]
        conduct, unsupported = _conduct(allegation, facts["detection"])
        flags = []
        if unsupported:
            flags.append(Flag("no_supporting_finding", "No supporting finding", unsupported))
        if (
            clause["category"] == ClauseCategory.LIMIT_CIRCUMVENTION
            and not limits_known
            and not refused
        ):
            flags.append(
                Flag(
                    "circumvention_without_limits",
                    "Circumvention with no limit shown",
                    "No rate limit is loaded for the accounts' plans and no request was refused "
                    "(HTTP 429): the record shows no limit that was circumvented.",
                )
            )
        duplicate = _duplicate_flag(allegation, facts["allegations"])
        if duplicate:
            flags.append(duplicate)
        result.append(
            {
                "id": allegation["id"],
                "path": clause["path"],
                "document": clause["document"],
                "version": clause["version"],
                "category": clause["category"],
                "elements": [
                    _formation(allegation, accounts, effective),
                    _version(allegation, facts["conduct"]),
                    conduct,
                    _attribution(accounts, facts["detection"]),
                    _use(facts["output_use"]),
                    _damages(facts["damages"]),
                ],
                "flags": flags,
            }
        )
    return {"allegations": result, "flags": _case_flags(accounts, facts["terms"])}
