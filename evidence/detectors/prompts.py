"""Links from what the accounts send: the same prompts, and traffic routed for another."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from itertools import pairwise

from django.conf import settings
from django.db import connection

from evidence.detectors.activity import RARE_TEMPLATE_ACCOUNTS
from evidence.detectors.link_base import STRONG, FoundLink, LinkContext, UnionFind, link_kind
from evidence.detectors.registry import MEASURED_ON, Methodology
from evidence.models import ClauseCategory

SCAFFOLD_MIN_USES = 10
# A prompt scaffold is "harvesting" when it is used often, filled differently nearly every
# time (or in many different ways), and mostly asks for reasoning or grading.
SCAFFOLD_MIN_FILL_RATIO = 0.9
SCAFFOLD_MIN_FILLS = 50
SCAFFOLD_MIN_LEXICON_SHARE = 0.5
SCAFFOLD_ACCOUNT_SHARE = 0.3
SCAFFOLD_MIN_SHARED = 2
HARVESTING_SCAFFOLD_SQL = (
    "EXISTS (SELECT 1 FROM det_key k JOIN det_scaffold s USING (scaffold) "
    "WHERE k.template = u.prompt_template_key)"
)
IDENTICAL_MAX_ACCOUNTS = RARE_TEMPLATE_ACCOUNTS
IDENTICAL_MIN_SHARED = 20
IDENTICAL_MIN_JACCARD = 0.5
ROUTER_MIN_END_USERS = 20
ROUTED_USER_SHARE = 0.5


SHARED_PROMPTS = link_kind(
    "shared_prompts",
    "Cross-account near-duplicate prompts",
    (ClauseCategory.ACCOUNT_SHARING, ClauseCategory.OUTPUT_EXTRACTION),
    SCAFFOLD_MIN_SHARED,
    Methodology(
        definition=(
            "Either (a) the two accounts send the same harvesting prompt scaffolds: "
            f"prompt openings (the first characters, digits masked) used at least "
            f"{SCAFFOLD_MIN_USES} times in the record, filled differently at least "
            f"{SCAFFOLD_MIN_FILL_RATIO:.0%} of the time or with at least "
            f"{SCAFFOLD_MIN_FILLS} different fills, and mostly matching the "
            "reasoning or grader lexicon, making up at least "
            f"{SCAFFOLD_ACCOUNT_SHARE:.0%} of each account's prompts; or (b) they share "
            f"at least {IDENTICAL_MIN_SHARED} prompt templates that at most "
            f"{IDENTICAL_MAX_ACCOUNTS} accounts in the whole record use, with a Jaccard "
            f"similarity of at least {IDENTICAL_MIN_JACCARD}."
        ),
        threshold=f"At least {SCAFFOLD_MIN_SHARED} shared harvesting scaffolds, or (b).",
        false_positives=(
            "Customers of one prompt library or framework (popular templates are used "
            "by many accounts and are excluded by the rarity and lexicon conditions)."
        ),
        error_rate=f"Fired for no ordinary account in {MEASURED_ON}.",
    ),
)
PROXY_ROUTING = link_kind(
    "proxy_routing",
    "Reseller or proxy routing",
    (ClauseCategory.KEY_TRANSFER, ClauseCategory.REGION),
    ROUTED_USER_SHARE,
    Methodology(
        definition=(
            "An account that carries many end users behind its keys (a declared "
            f"reseller, or {ROUTER_MIN_END_USERS}+ end users on one key) whose traffic "
            "for some end users uses the same harvesting scaffolds as another account: "
            "the reseller routes that actor's requests. End users with at least "
            f"{ROUTED_USER_SHARE:.0%} harvesting prompts are named. Accounts in "
            "countries listed in the PACTA_UNSUPPORTED_COUNTRIES setting are flagged."
        ),
        threshold="At least one routed end user (strong link).",
        false_positives=(
            "An honest reseller with one bad customer: the link names the end users, "
            "so the reseller can be asked to act on them (Terms 4.2(c))."
        ),
        error_rate=f"Fired for no ordinary account or declared reseller in {MEASURED_ON}.",
    ),
)


def shared_scaffold_links(
    context: LinkContext,
) -> tuple[list[FoundLink], dict[str, dict[str, int]]]:
    """Accounts sending the same harvesting scaffolds; returns the links and, for each
    account, its requests per harvesting scaffold (proxy routing reuses them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TEMP TABLE det_scaffold ON COMMIT DROP AS
            SELECT scaffold FROM det_key
            GROUP BY scaffold
            HAVING sum(uses) >= %(min_uses)s
               AND (count(*) >= %(fill)s * sum(uses) OR count(*) >= %(fills)s)
               AND sum(uses) FILTER (WHERE reasoning OR grader) >= %(lexicon)s * sum(uses)
            """,
            {
                "min_uses": SCAFFOLD_MIN_USES,
                "fill": SCAFFOLD_MIN_FILL_RATIO,
                "fills": SCAFFOLD_MIN_FILLS,
                "lexicon": SCAFFOLD_MIN_LEXICON_SHARE,
            },
        )
        # Only accounts with enough reasoning or grader prompts can qualify (harvesting
        # scaffolds are mostly such prompts): the join reads their templates only.
        lexical = [
            a
            for a, row in context.activity.accounts.items()
            if row["reasoning"] + row["grader"]
            >= SCAFFOLD_MIN_LEXICON_SHARE * SCAFFOLD_ACCOUNT_SHARE * row["prompted"]
            and row["reasoning"] + row["grader"] > 0
        ]
        cursor.execute(
            """
            SELECT t.account_id, k.scaffold, sum(t.requests)::bigint
            FROM det_template t JOIN det_key k USING (template)
            WHERE t.account_id = ANY(%s) AND k.scaffold IN (SELECT scaffold FROM det_scaffold)
            GROUP BY 1, 2
            """,
            [lexical],
        )
        rows = cursor.fetchall()
    use: dict[str, dict[str, int]] = defaultdict(dict)
    for account_id, scaffold, requests in rows:
        use[account_id][scaffold] = int(requests)
    accounts = context.activity.accounts
    qualifying = {
        a: scaffolds
        for a, scaffolds in use.items()
        if a in context.profiles
        and sum(scaffolds.values()) >= SCAFFOLD_MIN_USES
        and sum(scaffolds.values()) >= SCAFFOLD_ACCOUNT_SHARE * accounts[a]["prompted"]
    }
    users_of: dict[str, list[str]] = defaultdict(list)
    for account_id, scaffolds in qualifying.items():
        for scaffold, requests in scaffolds.items():
            if requests >= 2:
                users_of[scaffold].append(account_id)
    spanning = UnionFind()
    links = []
    pk = {a: context.profiles[a]["pk"] for a in qualifying}
    for scaffold in sorted(users_of, key=lambda s: (-len(users_of[s]), s)):
        members = sorted(users_of[scaffold], key=pk.__getitem__)
        for x, y in pairwise(members):
            if spanning.find(x) == spanning.find(y):
                continue
            shared = sorted(
                s
                for s in set(qualifying[x]) & set(qualifying[y])
                if qualifying[x][s] >= 2 and qualifying[y][s] >= 2
            )
            if len(shared) < SCAFFOLD_MIN_SHARED:
                continue
            spanning.union(x, y)
            links.append(_scaffold_link(context, x, y, shared, qualifying, len(qualifying)))
    return links, qualifying


def _scaffold_link(context, x, y, shared, qualifying, population) -> FoundLink:
    prompted = {a: context.activity.accounts[a]["prompted"] for a in (x, y)}
    on_shared = {a: sum(qualifying[a][s] for s in shared) for a in (x, y)}
    share = {a: on_shared[a] / prompted[a] if prompted[a] else 0.0 for a in (x, y)}
    quoted = ", ".join(f"'{s.strip()}…'" for s in shared[:3])
    return context.link(
        x,
        y,
        SHARED_PROMPTS.code,
        STRONG,
        {
            "mode": "harvesting_scaffolds",
            "shared_scaffolds": shared[:50],
            "shared_count": len(shared),
            "requests_on_shared": on_shared,
            "share_of_prompts": {a: round(v, 4) for a, v in share.items()},
            "accounts_sending_harvesting_scaffolds": population,
        },
        f"Both accounts sent prompts built on the same {len(shared)} scaffolds that ask for "
        f"written-out reasoning or mass-produced text ({quoted}), filled with different "
        f"content almost every time: {on_shared[x]:,} of account {x}'s prompts "
        f"({share[x]:.0%}) and {on_shared[y]:,} of account {y}'s ({share[y]:.0%}); "
        f"{population} accounts in the whole record send such scaffolds.",
        sample_queries=[(acct, HARVESTING_SCAFFOLD_SQL, []) for acct in (x, y)],
    )


def identical_prompt_links(context: LinkContext) -> list[FoundLink]:
    accounts = context.activity.accounts
    busy = [a for a, row in accounts.items() if row["rare_templates"] >= IDENTICAL_MIN_SHARED]
    if len(busy) < 2:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH candidates AS (
              SELECT t.account_id, t.template FROM det_template t JOIN det_key k USING (template)
              WHERE t.account_id = ANY(%(busy)s) AND k.accounts BETWEEN 2 AND %(max_accounts)s
            )
            SELECT a.account_id AS x, b.account_id AS y, count(*) AS shared
            FROM candidates a
            JOIN candidates b ON a.template = b.template AND a.account_id < b.account_id
            GROUP BY 1, 2 HAVING count(*) >= %(min_shared)s
            """,
            {
                "busy": busy,
                "max_accounts": IDENTICAL_MAX_ACCOUNTS,
                "min_shared": IDENTICAL_MIN_SHARED,
            },
        )
        rows = [(x, y, n, accounts[x]["templates"], accounts[y]["templates"]) for x, y, n in cursor]
    links = []
    for x, y, shared, tx, ty in rows:
        jaccard = shared / (tx + ty - shared)
        if jaccard < IDENTICAL_MIN_JACCARD or x not in context.profiles:
            continue
        links.append(
            context.link(
                x,
                y,
                SHARED_PROMPTS.code,
                STRONG,
                {
                    "mode": "identical_templates",
                    "shared_templates": shared,
                    "templates": {x: tx, y: ty},
                    "jaccard": round(jaccard, 4),
                },
                f"The accounts share {shared:,} prompt templates (Jaccard similarity "
                f"{jaccard:.2f}) that at most {IDENTICAL_MAX_ACCOUNTS} accounts in the whole "
                "record use.",
                sample_queries=[
                    (
                        acct,
                        "EXISTS (SELECT 1 FROM det_key k WHERE k.template = u.prompt_template_key"
                        " AND k.accounts BETWEEN 2 AND %s::int)",
                        [IDENTICAL_MAX_ACCOUNTS],
                    )
                    for acct in (x, y)
                ],
            )
        )
    return links


def unsupported_countries() -> set[str]:
    """Countries the provider does not serve (Terms 3.3(h)): the PACTA_UNSUPPORTED_COUNTRIES
    setting, or the environment variable of that name (comma-separated ISO codes)."""
    configured = getattr(settings, "PACTA_UNSUPPORTED_COUNTRIES", None)
    if configured is None:
        configured = os.environ.get("PACTA_UNSUPPORTED_COUNTRIES", "").split(",")
    return {code.strip().upper() for code in configured if code.strip()}


def _shared_network_share(context: LinkContext, account_id: str) -> float:
    """Share of the account's requests sent from networks many unrelated parties use."""
    ips = context.ip_use.get(account_id, {})
    total = sum(requests for _, requests in ips.values())
    shared = sum(
        requests for network, requests in ips.values() if network in context.large_networks
    )
    return shared / total if total else 0.0


def proxy_routing_links(
    context: LinkContext, scaffold_use: dict[str, dict[str, int]]
) -> list[FoundLink]:
    """A reseller whose end users send another account's harvesting scaffolds."""
    accounts = context.activity.accounts
    candidates = sorted(
        a
        for a in scaffold_use
        if a in context.profiles
        and (
            context.profiles[a]["reseller"]
            or accounts[a]["end_user_requests"] >= ROUTER_MIN_END_USERS
        )
    )
    if not candidates:
        return []
    with connection.cursor() as cursor:
        # The candidates' own rows, through the (account, ts) index.
        cursor.execute(
            f"""
            SELECT u.account_id, u.api_key_id, u.end_user, count(*), count(h.template)
            FROM evidence_usageevent u
            LEFT JOIN (
              SELECT k.template FROM det_key k JOIN det_scaffold s USING (scaffold)
            ) h ON h.template = u.prompt_template_key
            WHERE u.account_id = ANY(%(accounts)s) AND {context.activity.window.sql}
            GROUP BY 1, 2, 3
            """,
            {"accounts": candidates, **context.activity.window.params},
        )
        rows = cursor.fetchall()
    users_per_key: dict[str, Counter] = defaultdict(Counter)
    per_user: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for account_id, key, end_user, total, harvesting in rows:
        if end_user:
            users_per_key[account_id][key] += 1
        counts = per_user[account_id].setdefault(end_user, [0, 0])
        counts[0] += total
        counts[1] += harvesting
    end_users = {a: max(keys.values()) for a, keys in users_per_key.items()}
    routers = [
        a
        for a in candidates
        if context.profiles[a]["reseller"] or end_users.get(a, 0) >= ROUTER_MIN_END_USERS
    ]
    per_router = {
        a: [(user, total, harvesting) for user, (total, harvesting) in per_user[a].items()]
        for a in routers
    }
    unsupported = unsupported_countries()
    links = []
    for router in routers:
        entries = per_router.get(router, [])
        routed = sorted(
            (user, total, harvesting)
            for user, total, harvesting in entries
            if user and total and harvesting >= ROUTED_USER_SHARE * total
        )
        if not routed:
            continue
        router_total = sum(total for _, total, _ in entries)
        routed_requests = sum(total for _, total, _ in routed)
        # The account whose scaffolds the routed traffic shares most.
        mine = scaffold_use[router]
        best, best_shared = None, 0
        for other, scaffolds in scaffold_use.items():
            if other == router or other in routers or other not in context.profiles:
                continue
            shared = sum(min(mine[s], scaffolds[s]) for s in mine.keys() & scaffolds.keys())
            if shared > best_shared:
                best, best_shared = other, shared
        if best is None:
            continue
        flagged = sorted(
            {
                f"{a}: {country}"
                for a in (router, best)
                for country in (
                    context.profiles[a]["country"],
                    context.profiles[a]["billing_country"],
                )
                if country and country.upper() in unsupported
            }
        )
        users = [user for user, _, _ in routed]
        declared = "a declared reseller" if context.profiles[router]["reseller"] else "an account"
        share = routed_requests / router_total
        explanation = (
            f"Account {router}, {declared} serving up to {end_users.get(router, 0):,} end "
            f"users on one key, carried {routed_requests:,} requests ({share:.0%} "
            f"of its traffic) for {len(users)} end users ({', '.join(users[:4])}"
            f"{', ...' if len(users) > 4 else ''}) whose prompts use the same harvesting "
            f"scaffolds as account {best}: the reseller routes that actor's requests."
        )
        shared_infra = _shared_network_share(context, router)
        if shared_infra >= 0.5:
            explanation += (
                f" {shared_infra:.0%} of its traffic came from shared cloud networks rather "
                "than its own."
            )
        if flagged:
            explanation += f" Unsupported countries involved: {', '.join(flagged)}."
        links.append(
            context.link(
                router,
                best,
                PROXY_ROUTING.code,
                STRONG,
                {
                    "router": router,
                    "reseller_declared": context.profiles[router]["reseller"],
                    "end_users_on_one_key": end_users.get(router, 0),
                    "routed_end_users": users[:50],
                    "routed_end_user_count": len(users),
                    "routed_requests": routed_requests,
                    "router_requests": router_total,
                    "shared_scaffold_requests": best_shared,
                    "unsupported_countries": flagged,
                    "share_from_shared_networks": round(shared_infra, 4),
                },
                explanation,
                sample_queries=[(router, "u.end_user = ANY(%s::text[])", [users])],
            )
        )
    return links
