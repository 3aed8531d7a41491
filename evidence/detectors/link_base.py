"""What the link finders and `links` (which runs them) share: kinds of link and strengths,
the found link, the finders' context, declared organisations and a union-find.

Kept apart from `links` so that the finders (`identity`, `prompts`, `timing`) and the module
that runs them each import this one and never each other. Strengths are explained in `links`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from evidence.detectors.activity import Activity
from evidence.detectors.registry import LinkKind, register

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


# --- groups --------------------------------------------------------------------------------


class UnionFind:
    """Accounts joined, directly or through others, by the links seen so far."""

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
