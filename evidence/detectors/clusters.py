"""Clusters: accounts joined by hard or strong links, banded by what their members did.

A cluster is a connected component of the hard and strong links (weak links are context
and never join accounts). Its band reads two things a court keeps apart: *attribution*
(are these accounts one actor hiding behind several names?) and *conduct* (did they do
what the Terms forbid?). Neither alone is enough for the top band:

- an account's conduct is *strong* when it fired two or more extraction signals, and
  *moderate* with one extraction signal plus a scale or automation signal;
- a cluster is *concealed* when two or more members are joined by links that a declared
  organisation does not explain (a company's own accounts on one card are not hiding);
- key sharing, rate-limit hand-offs and proxy routing are *circumvention*: conduct of the
  cluster itself (Terms 3.3(d), (f), (g), (k)).

A strong link joins two accounts only when each is *corroborated*: it fired a signal of
its own, has a hard link (other than within a declared organisation), or has strong links of
two different kinds. One coincidence (an
ordinary customer who signed up from the same cloud range, in the same half hour, as a
network's scripted sign-ups) is recorded as a link but attributes nobody to anything.

Bands: **critical** = concealed, and two or more members with strong conduct (or
circumvention with two members of at least moderate conduct); **high** = concealed with
one strong member, two moderate ones or circumvention, or any account with strong conduct
even when no link to others is found; **review** = anything fired or concealed; **none**.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from evidence.detectors.coordination import Campaign
from evidence.detectors.link_base import FoundLink, UnionFind
from evidence.detectors.registry import REGISTRY
from evidence.models import Band

# Links that are conduct in themselves, not only attribution.
CIRCUMVENTION = {"key_sharing", "rate_limit_handoff", "proxy_routing"}

# The score and the bands are a method the report defines (its methods appendix reads
# these constants, so the definition printed is the one the code applies).
# Extraction signals an account must fire for its conduct to be strong.
STRONG_EXTRACTION = 2
# What each member's conduct counts for in the conduct share (its mean over the members).
CONDUCT_WEIGHTS = {"strong": 1.0, "moderate": 0.5, "weak": 0.1, "none": 0.0}
# Points of the score, 0-100: the conduct share times its points, plus the points of a
# concealed cluster, of circumvention, and of strong members (full at STRONG_MEMBERS_FULL).
SCORE_POINTS = {"conduct_share": 50, "concealed": 25, "circumvention": 15, "strong_members": 10}
STRONG_MEMBERS_FULL = 2
SCORE_MAX = 100.0
# Strong members a concealed cluster needs for the critical band (or, with circumvention,
# members of at least moderate conduct).
CRITICAL_MEMBERS = 2
# Moderate members that make a concealed cluster high.
HIGH_MODERATE_MEMBERS = 2
# A cluster holding most of a coordinated campaign is scored from the campaign: a base,
# points per independent line tying the group and per harvest measure, each counted up to
# CAMPAIGN_COUNTED.
CAMPAIGN_POINTS = {"base": 25, "per_line": 15, "per_harvest_measure": 10}
CAMPAIGN_COUNTED = 3


@dataclass
class Conduct:
    """One account's fired signals, split into extraction and scale/automation."""

    extraction: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        if len(self.extraction) >= STRONG_EXTRACTION:
            return "strong"
        if self.extraction and self.other:
            return "moderate"
        if self.extraction or self.other:
            return "weak"
        return "none"


@dataclass
class ClusterResult:
    accounts: list[str]
    links: list[FoundLink]
    score: float
    band: str
    explanation: str
    evidence: dict[str, Any]


def clusters_build(
    *,
    accounts: list[str],
    conduct: dict[str, Conduct],
    links: list[FoundLink],
    campaigns: list[Campaign] = (),
) -> list[ClusterResult]:
    """Components over hard and strong links, each scored and banded.

    Returns every component of two or more accounts, and single accounts whose band is
    above none; ordinary customers with nothing fired and no link are not clusters. A
    component holding most of a campaign (`coordination`) is banded no lower than the
    campaign: what the group does together can be critical when no member is.
    """
    components = UnionFind()
    joining = _corroborated(links, conduct)
    for link in joining:
        components.union(link.a, link.b)
    members: dict[str, list[str]] = defaultdict(list)
    for account_id in accounts:
        members[components.find(account_id)].append(account_id)
    for link in joining:  # accounts with links but no usage in the window
        for account_id in (link.a, link.b):
            root = components.find(account_id)
            if account_id not in members[root]:
                members[root].append(account_id)
    links_of: dict[str, list[FoundLink]] = defaultdict(list)
    for link in joining:
        links_of[components.find(link.a)].append(link)
    campaign_of: dict[str, Campaign] = {}
    for campaign in campaigns:
        roots = Counter(components.find(a) for a in campaign.accounts)
        root, held = roots.most_common(1)[0]
        if 2 * held > len(campaign.accounts) and len(members[root]) >= 2:
            campaign_of[root] = max(
                (campaign, campaign_of.get(root)),
                key=lambda c: (BAND_RANK[c.band], len(c.accounts)) if c else (-1, 0),
            )
    results = []
    empty = Conduct()
    for root, group in members.items():
        if len(group) == 1 and conduct.get(group[0], empty).level == "none":
            continue  # an ordinary customer on its own: not a cluster
        result = _cluster(sorted(group), links_of.get(root, []), conduct)
        if root in campaign_of:
            _campaign_band(result, campaign_of[root])
        if len(group) >= 2 or result.band != Band.NONE:
            results.append(result)
    results.sort(key=lambda r: (-r.score, -len(r.accounts), r.accounts[0]))
    return results


def _corroborated(links: list[FoundLink], conduct: dict[str, Conduct]) -> list[FoundLink]:
    """The hard links, and the strong links whose two accounts are both corroborated."""
    hard: set[str] = set()
    strong_kinds: dict[str, set[str]] = defaultdict(set)
    for link in links:
        for account_id in (link.a, link.b):
            if link.strength == "hard" and not link.declared:
                hard.add(account_id)
            elif link.strength == "strong":
                strong_kinds[account_id].add(link.kind)

    def corroborated(account_id: str) -> bool:
        own = conduct.get(account_id)
        return (
            (own is not None and own.level != "none")
            or account_id in hard
            or len(strong_kinds[account_id]) >= 2
        )

    return [
        link
        for link in links
        if link.strength == "hard"
        or (link.strength == "strong" and corroborated(link.a) and corroborated(link.b))
    ]


def _cluster(group: list[str], links: list[FoundLink], conduct: dict[str, Conduct]):
    empty = Conduct()
    levels = Counter(conduct.get(a, empty).level for a in group)
    strong, moderate, weak = levels["strong"], levels["moderate"], levels["weak"]
    size = len(group)
    undeclared = [link for link in links if not link.declared]
    concealed = size >= 2 and bool(undeclared)
    circumvention = sorted({link.kind for link in undeclared if link.kind in CIRCUMVENTION})
    if concealed and (
        strong >= CRITICAL_MEMBERS or (circumvention and strong + moderate >= CRITICAL_MEMBERS)
    ):
        band = Band.CRITICAL
    elif (
        concealed and (strong >= 1 or moderate >= HIGH_MODERATE_MEMBERS or circumvention)
    ) or strong >= 1:
        band = Band.HIGH
    elif strong + moderate + weak or concealed:
        band = Band.REVIEW
    else:
        band = Band.NONE
    score = cluster_score(
        levels=levels, size=size, concealed=concealed, circumvention=bool(circumvention)
    )
    fired = Counter(code for a in group for code in conduct.get(a, empty).extraction)
    fired.update(code for a in group for code in conduct.get(a, empty).other)
    kinds = Counter(link.kind for link in links)
    evidence = {
        "size": size,
        "members_by_conduct": {
            "strong": strong,
            "moderate": moderate,
            "weak": weak,
            "none": levels["none"],
        },
        "signals_fired": dict(sorted(fired.items())),
        "links_by_kind": dict(sorted(kinds.items())),
        "undeclared_links": len(undeclared),
        "declared_links": len(links) - len(undeclared),
        "circumvention": circumvention,
    }
    return ClusterResult(
        accounts=group,
        links=sorted(links, key=lambda link: (link.kind, link.a, link.b)),
        score=score,
        band=band,
        explanation=_explain(band, size, links, undeclared, levels, fired, circumvention),
        evidence=evidence,
    )


def cluster_score(*, levels: Counter, size: int, concealed: bool, circumvention: bool) -> float:
    """The score of a cluster of `size` members counted by conduct level (`levels`)."""
    share = sum(CONDUCT_WEIGHTS[level] * levels[level] for level in CONDUCT_WEIGHTS) / size
    score = (
        SCORE_POINTS["conduct_share"] * share
        + (SCORE_POINTS["concealed"] if concealed else 0)
        + (SCORE_POINTS["circumvention"] if circumvention else 0)
        + SCORE_POINTS["strong_members"] * min(1.0, levels["strong"] / STRONG_MEMBERS_FULL)
    )
    return round(min(SCORE_MAX, score), 1)


def score_definition() -> dict[str, Any]:
    """The cluster score and bands as the methods appendix states them, built from the
    constants `cluster_score` and `_cluster` apply (never retyped: a changed weight
    changes the definition printed)."""
    weights = " + ".join(f"{w:g} x {level}" for level, w in CONDUCT_WEIGHTS.items() if w)
    p = SCORE_POINTS
    c = CAMPAIGN_POINTS
    return {
        "conduct_levels": {
            "strong": f"{STRONG_EXTRACTION} or more extraction signals fired",
            "moderate": "one extraction signal and a scale or automation signal fired",
            "weak": "any other signal fired",
            "none": "no signal fired",
        },
        "conduct_weights": dict(CONDUCT_WEIGHTS),
        "score_points": dict(p),
        "strong_members_full": STRONG_MEMBERS_FULL,
        "score_max": SCORE_MAX,
        "circumvention_links": sorted(CIRCUMVENTION),
        "formula": (
            f"score = min({SCORE_MAX:g}, {p['conduct_share']} x ({weights}) / members"
            f" + {p['concealed']} if concealed + {p['circumvention']} if circumvention"
            f" + {p['strong_members']} x min(1, strong members / {STRONG_MEMBERS_FULL}))"
            ", rounded to one decimal"
        ),
        "campaign_points": dict(c),
        "campaign_counted": CAMPAIGN_COUNTED,
        "campaign_formula": (
            f"a cluster holding most of a coordinated campaign is raised to the campaign's "
            f"band and scored at least {c['base']} + {c['per_line']} x min(lines, "
            f"{CAMPAIGN_COUNTED}) + {c['per_harvest_measure']} x min(harvest measures, "
            f"{CAMPAIGN_COUNTED})"
        ),
        "bands": [
            {
                "band": str(Band.CRITICAL),
                "rule": f"concealed, and {CRITICAL_MEMBERS} or more members with strong conduct "
                f"(or circumvention with {CRITICAL_MEMBERS} or more members of at least "
                "moderate conduct)",
            },
            {
                "band": str(Band.HIGH),
                "rule": f"concealed with one strong member, {HIGH_MODERATE_MEMBERS} moderate "
                "ones or circumvention; or any member with strong conduct",
            },
            {"band": str(Band.REVIEW), "rule": "any signal fired, or concealed"},
            {"band": str(Band.NONE), "rule": "otherwise"},
        ],
        "concealed": "two or more members joined by a link no declared organisation explains",
    }


BAND_RANK = {Band.NONE: 0, Band.REVIEW: 1, Band.HIGH: 2, Band.CRITICAL: 3}


def _campaign_band(result: ClusterResult, campaign: Campaign) -> None:
    """Raise the cluster to the campaign's band, scored from what the group does together:
    how many independent lines tie it and how many harvest measures stand out."""
    result.evidence["campaign"] = campaign.summary()
    band = campaign.band
    if BAND_RANK[band] <= BAND_RANK[Band(result.band)]:
        return
    lines, harvest = len(campaign.coordinated), len(campaign.harvesting)
    score = (
        CAMPAIGN_POINTS["base"]
        + CAMPAIGN_POINTS["per_line"] * min(lines, CAMPAIGN_COUNTED)
        + CAMPAIGN_POINTS["per_harvest_measure"] * min(harvest, CAMPAIGN_COUNTED)
    )
    result.band = band
    result.score = round(min(SCORE_MAX, max(result.score, score)), 1)
    members = result.explanation.split(": ", 1)[-1]  # the member-by-member reading, unlabelled
    result.explanation = f"{Band(band).label}: {campaign.sentence()} Member by member: {members}"


def _name(code: str) -> str:
    detector = REGISTRY.get(code)
    return detector.name.lower() if detector else code


def _explain(band, size, links, undeclared, levels, fired, circumvention) -> str:
    label = Band(band).label
    if size == 1:
        subject = "A single account with no hard or strong link to another account"
    else:
        kinds = Counter(link.kind for link in links)
        listed = ", ".join(f"{_name(k)} x{n}" for k, n in kinds.most_common())
        subject = f"{size} accounts joined by {len(links)} link{'s' * (len(links) != 1)} ({listed})"
        if not undeclared:
            subject += ", all between accounts of one declared organisation"
        elif len(undeclared) < len(links):
            subject += f", {len(links) - len(undeclared)} of them within a declared organisation"
    conduct = []
    if levels["strong"]:
        conduct.append(
            f"{levels['strong']} {'member' if levels['strong'] == 1 else 'members'} fired two "
            "or more extraction signals"
        )
    if levels["moderate"]:
        conduct.append(f"{levels['moderate']} fired one extraction signal and a scale signal")
    if fired:
        top = ", ".join(f"{_name(code)} {n}" for code, n in fired.most_common(5))
        conduct.append(f"signals fired: {top}")
    if circumvention:
        conduct.append("circumvention: " + ", ".join(_name(k) for k in circumvention))
    if not conduct:
        conduct.append("no signal fired")
    return f"{label}: {subject}; {'; '.join(conduct)}."
