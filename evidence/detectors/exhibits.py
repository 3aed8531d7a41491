"""Exhibits: the usage rows a finding or link cites, chosen so anyone can re-select them.

Each finding names the first few requests (in time order) of its account that show the
pattern, so a report can attach them and the other side can find them in the record.
Requests are fetched in batches: one query per kind of condition, over every (account,
parameters) that needs it, each account read from the (account, ts) index.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import connection

# (account_id, SQL condition over the usage row `u` with %s placeholders, their values)
SampleQuery = tuple[str, str, list[Any]]
BATCH = 2000


def _key(query: SampleQuery) -> tuple[str, str, str]:
    """Where a query's samples are kept for the length of one run: the parameters' repr is
    as exact as their JSON and several times cheaper (a run keys tens of thousands)."""
    account_id, condition, params = query
    return account_id, condition, repr(params)


def samples_fetch(queries: list[SampleQuery], *, limit: int) -> dict[tuple, list[str]]:
    """Up to `limit` request ids for each query, keyed as `samples_of` reads them."""
    groups: dict[str, dict[tuple, SampleQuery]] = defaultdict(dict)
    for query in queries:
        groups[query[1]][_key(query)] = query
    found: dict[tuple, list[str]] = {}
    with connection.cursor() as cursor:
        for condition, members in groups.items():
            # The condition's placeholders become columns of a VALUES list, one row per
            # (account, parameters): a single query however many links need exhibits.
            parts = condition.split("%s")
            arity = len(parts) - 1
            inner = parts[0] + "".join(f"a.p{i}{part}" for i, part in enumerate(parts[1:]))
            items = list(members.items())
            for start in range(0, len(items), BATCH):
                chunk = items[start : start + BATCH]
                row = "(" + ", ".join(["%s"] * (arity + 2)) + ")"
                columns = ", ".join(["n", "account_id", *(f"p{i}" for i in range(arity))])
                params: list[Any] = []
                for n, (_, (account_id, _, values)) in enumerate(chunk):
                    params += [n, account_id, *values]
                cursor.execute(
                    f"""
                    SELECT a.n, s.ids
                    FROM (VALUES {", ".join([row] * len(chunk))}) AS a({columns})
                    CROSS JOIN LATERAL (
                      SELECT array_agg(request_id ORDER BY ts) FROM (
                        SELECT u.request_id, u.ts FROM evidence_usageevent u
                        WHERE u.account_id = a.account_id AND ({inner})
                        ORDER BY u.ts LIMIT {int(limit)}
                      ) x
                    ) s(ids)
                    """,
                    params,
                )
                for n, ids in cursor.fetchall():
                    found[chunk[n][0]] = list(ids or [])
    return found


def samples_of(found: dict[tuple, list[str]], query: SampleQuery) -> list[str]:
    return found.get(_key(query), [])
