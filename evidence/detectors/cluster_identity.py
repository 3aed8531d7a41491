"""Cluster identity: which of a new run's clusters is "the same cluster" as one before.

A case, a note or a conversation with counsel names a cluster; if every run renumbered
them, a small ingest would turn "cluster 14" into "cluster 231" and nobody could tell
whether the group they are pursuing still stands. So a cluster carries an identity
("C-0007") that a later run passes on to the cluster that keeps its *core*:

- the core of an old cluster in a new one is the accounts present in both;
- a new cluster inherits an old identity when that core is at least half of the old
  cluster's accounts (a group that lost most of its members is not the same group);
- each old identity goes to at most one new cluster and each new cluster takes at most
  one: the pairs are settled largest core first, then the larger share of the old
  cluster kept, then the older identity, then the new cluster's first account, so a
  cluster that splits keeps its identity on its bigger part and two runs over the same
  record always agree;
- every other new cluster gets a new identity, never one used before.

Matching indexes the old run's memberships by account, so it costs one pass over the old
and new members, never a comparison of every pair of clusters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from django.db import connection

from evidence.models import ClusterMember, DetectionRun

IDENTITY_SEQUENCE = "evidence_cluster_identity_seq"


def identities_assign(
    *, clusters: Sequence[Sequence[str]], previous: DetectionRun | None
) -> list[str]:
    """An identity for each cluster (given as its account ids), in the order given."""
    inherited = identities_inherited(clusters=clusters, previous=previous)
    fresh = identities_new(count=sum(1 for i in inherited if i is None))
    return [identity if identity is not None else next(fresh) for identity in inherited]


def identities_inherited(
    *, clusters: Sequence[Sequence[str]], previous: DetectionRun | None
) -> list[str | None]:
    """The old identity each cluster inherits from run `previous`, or None (see module)."""
    if previous is None or not clusters:
        return [None] * len(clusters)
    old_of: dict[str, str] = {}  # account id -> the old identity it belonged to
    old_size: Counter[str] = Counter()
    # Fetched whole rather than through a server-side cursor, which PostgreSQL plans for its
    # first rows (see `detection_report`).
    rows = ClusterMember.objects.filter(cluster__run=previous).values_list(
        "account__account_id", "cluster__identity"
    )
    for account_id, identity in rows:
        old_of[account_id] = identity
        old_size[identity] += 1
    candidates = []
    for index, accounts in enumerate(clusters):
        core = Counter(old_of[a] for a in accounts if a in old_of)
        first = min(accounts, default="")
        for identity, kept in core.items():
            if 2 * kept >= old_size[identity]:
                candidates.append(
                    (-kept, -kept / old_size[identity], _number(identity), first, index, identity)
                )
    candidates.sort()
    result: list[str | None] = [None] * len(clusters)
    taken: set[str] = set()
    for *_, index, identity in candidates:
        if result[index] is None and identity not in taken:
            result[index] = identity
            taken.add(identity)
    return result


def identities_new(*, count: int):
    """`count` identities never given before, from the database's sequence."""
    if count <= 0:
        return iter(())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(%s) FROM generate_series(1, %s) ORDER BY 1", [IDENTITY_SEQUENCE, count]
        )
        numbers = [row[0] for row in cursor.fetchall()]
    return iter(f"C-{n:04d}" for n in numbers)


def _number(identity: str) -> tuple[int, str]:
    """Older identities first: "C-0007" before "C-0012" (numerically, past four digits too)."""
    prefix, _, digits = identity.rpartition("-")
    return (int(digits), prefix) if digits.isdigit() else (2**63, identity)
