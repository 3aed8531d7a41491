"""Links: why two "separate" accounts may be one actor, each with its evidence.

Strength is a statement about proof, not suspicion: a *hard* link (a shared card, one API
key used by two accounts) shows common control on its own; a *strong* link (sign-ups in
one burst, the same harvesting prompts, activity in lockstep) makes it probable; a *weak*
link is context and never joins a cluster. Links between accounts that openly belong to
one organisation are marked `declared`: a company may run several accounts on one card.

Where many accounts share one attribute (a card paying for 40 accounts), a spanning chain
of links is stored rather than every pair: the evidence of each link names the whole group,
and the cluster is the same.

This module holds what the finders share and runs them; the finders live by subject:
`identity` (cards, keys, networks, sign-ups), `prompts` (shared prompts, proxy routing)
and `timing` (synchronised activity, rate-limit hand-offs).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from evidence.detectors import LinkKind, register
from evidence.detectors.activity import Activity, SideWork
from evidence.detectors.exhibits import samples_fetch, samples_of

HARD, STRONG, WEAK = "hard", "strong", "weak"


class _Kind(LinkKind):
    def __init__(self, code, name, categories, threshold, methodology, version="1"):
        self.code, self.name, self.categories = code, name, categories
        self.threshold, self.methodology, self.version = threshold, methodology, version


def link_kind(code, name, categories, threshold, methodology, version="1") -> LinkKind:
    """Register a kind of link with its method (each finder module declares its own)."""
    return register(_Kind(code, name, categories, threshold, methodology, version))


# --- found links ---------------------------------------------------------------------------


@dataclass
class FoundLink:
    a: str
    b: str
    kind: str
    strength: str
    evidence: dict[str, Any]
    explanation: str
    samples: list[str] = field(default_factory=list)
    declared: bool = False
    # Request samples to fetch: (account_id, SQL condition over u, params).
    sample_queries: list[tuple[str, str, list[Any]]] = field(default_factory=list)

    @property
    def pair(self) -> tuple[str, str]:
        return (self.a, self.b)


class LinkContext:
    """What the link finders share: profiles, pair ordering, declared organisations."""

    def __init__(self, activity: Activity, suspects: set[str]) -> None:
        self.activity = activity
        self.profiles = activity.profiles
        self.suspects = suspects
        self.organisation = declared_organisations(self.profiles)
        self.key_sharers: set[str] = set()  # accounts using another's API key, once found
        # Filled in by the network finder: each account's addresses {ip: (network, requests)}
        # and the networks many unrelated parties share.
        self.ip_use: dict[str, dict[str, tuple[str, int]]] = {}
        self.large_networks: set[str] = set()

    def ordered(self, x: str, y: str) -> tuple[str, str]:
        return (x, y) if self.profiles[x]["pk"] < self.profiles[y]["pk"] else (y, x)

    def declared(self, x: str, y: str) -> bool:
        org = self.organisation.get(x)
        return org is not None and org == self.organisation.get(y)

    def link(self, x: str, y: str, kind: str, strength: str, evidence, explanation, **kw):
        a, b = self.ordered(x, y)
        declared = self.declared(a, b)
        if declared:
            org = self.organisation[a]
            evidence = {**evidence, "declared_organisation": org}
            explanation += (
                f" Both accounts openly belong to one organisation ({org}), so this link is "
                "not concealment by itself."
            )
        return FoundLink(a, b, kind, strength, evidence, explanation, declared=declared, **kw)

    def by_created(self, account_ids) -> list[str]:
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        return sorted(
            account_ids,
            key=lambda a: (self.profiles[a]["created_at"] or far, self.profiles[a]["pk"]),
        )


def links_find(activity: Activity, *, suspects: set[str], clock=None) -> list[FoundLink]:
    """Every link of every kind, from the temporary tables of `activity_collect`."""
    # Imported here: the finder modules import this module's types.
    from evidence.detectors import identity, prompts, timing

    lap = clock.lap if clock is not None else (lambda phase: None)
    context = LinkContext(activity, suspects)
    found: list[FoundLink] = []
    found += identity.payment_links(context)
    found += identity.key_sharing_links(context)
    context.key_sharers = {a for link in found if link.kind == "key_sharing" for a in link.pair}
    lap("links.hard")
    # The timing finders need only what is known by now. With the run's snapshot they read
    # the suspects' minutes on a second connection while the finders below work here.
    timing_links = SideWork(
        lambda db: timing.synchronised_links(context, db) + timing.handoff_links(context, db),
        snapshot=activity.snapshot,
    )
    found += identity.network_links(context, identity.parties(context, found))
    lap("links.network")
    found += identity.signup_burst_links(context)
    lap("links.signup")
    scaffold_links, scaffold_use = prompts.shared_scaffold_links(context)
    found += scaffold_links
    found += prompts.identical_prompt_links(context)
    found += prompts.proxy_routing_links(context, scaffold_use)
    lap("links.prompts")
    found += timing_links.result()
    lap("links.timing")
    found = _merge_duplicates(found)
    _samples_fetch(found)
    lap("links.exhibits")
    return found


_RANK = {HARD: 0, STRONG: 1, WEAK: 2}


def _merge_duplicates(found: list[FoundLink]) -> list[FoundLink]:
    """One link per pair and kind: two shared keys between the same accounts are one link
    whose evidence lists both."""
    merged: dict[tuple[str, str, str], FoundLink] = {}
    extra: dict[tuple[str, str, str], list[FoundLink]] = defaultdict(list)
    for link in found:
        key = (link.kind, link.a, link.b)
        if key not in merged:
            merged[key] = link
        else:
            extra[key].append(link)
    for key, others in extra.items():
        first = merged[key]
        group = sorted([first, *others], key=lambda link: _RANK[link.strength])
        lead = group[0]
        lead.evidence = {**lead.evidence, "further": [link.evidence for link in group[1:]]}
        lead.explanation = " ".join(dict.fromkeys(link.explanation for link in group[:3]))
        if len(group) > 3:
            lead.explanation += f" ({len(group) - 3} more of this kind.)"
        lead.sample_queries = [q for link in group for q in link.sample_queries][:4]
        merged[key] = lead
    return list(merged.values())


# --- declared organisations --------------------------------------------------------------


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1].lower() if "@" in email else ""


def declared_organisations(profiles: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Accounts that openly belong to one organisation: they share its email domain.

    A domain whose accounts sit in three or more countries is a public mailbox provider
    (free or disposable mail), not an organisation: sharing it declares nothing.
    """
    countries: dict[str, set[str]] = defaultdict(set)
    members: dict[str, list[str]] = defaultdict(list)
    for account_id, profile in profiles.items():
        domain = email_domain(profile["email"])
        if domain:
            members[domain].append(account_id)
            countries[domain].add(profile["country"] or "?")
    return {
        account_id: domain
        for domain, accounts in members.items()
        if len(accounts) >= 2 and len(countries[domain]) < 3
        for account_id in accounts
    }


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent.get(x, x)
        return root

    def union(self, x: str, y: str) -> bool:
        rx, ry = self.find(x), self.find(y)
        if rx == ry:
            return False
        self.parent[max(rx, ry)] = min(rx, ry)
        return True


# --- exhibits ------------------------------------------------------------------------------

SAMPLES_PER_QUERY = 2


def _samples_fetch(found: list[FoundLink]) -> None:
    """The first requests that show each link (usage rows a report can attach)."""
    queries = [query for link in found for query in link.sample_queries]
    fetched = samples_fetch(queries, limit=SAMPLES_PER_QUERY)
    for link in found:
        ids: list[str] = []
        for query in link.sample_queries:
            ids += [i for i in samples_of(fetched, query) if i not in ids]
        link.samples = ids
