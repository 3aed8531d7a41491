"""Links from who holds the accounts: payment cards, API keys, networks and sign-ups."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections import defaultdict
from itertools import pairwise

from evidence.detectors.link_base import (
    HARD,
    STRONG,
    WEAK,
    FoundLink,
    LinkContext,
    UnionFind,
    email_domain,
    link_kind,
)
from evidence.detectors.registry import MEASURED_ON, Methodology
from evidence.models import ApiKey, ClauseCategory

# A network used by this many otherwise unrelated parties is shared infrastructure (a cloud
# range, a campus NAT): sharing it says nothing about who is behind an account.
LARGE_NETWORK_PARTIES = 4
BURST_MINUTES = 30

SHARED_PAYMENT = link_kind(
    "shared_payment",
    "Shared payment method",
    (ClauseCategory.ACCOUNT_SHARING, ClauseCategory.OTHER),
    2,
    Methodology(
        definition="Two accounts whose payment method has the same processor fingerprint.",
        threshold="Any shared fingerprint (hard link).",
        false_positives=(
            "One company paying for its own accounts (staging and production, teams); "
            "such links are marked declared when the accounts share an organisation's "
            "email domain, and are not concealment."
        ),
        error_rate=(
            "Exact match: no measurement error. 1-2.6% of ordinary accounts share a card "
            f"with a sibling account (personal and work, staging and production) in {MEASURED_ON}; "
            "with no conduct these form no band."
        ),
    ),
)
KEY_SHARING = link_kind(
    "key_sharing",
    "Shared API key",
    (ClauseCategory.KEY_TRANSFER, ClauseCategory.LIMIT_CIRCUMVENTION),
    1,
    Methodology(
        definition=(
            "One API key used for requests billed to two or more accounts. A key is "
            "issued to one account; its use by another means the credential was shared."
        ),
        threshold="Any request (hard link).",
        false_positives="A provider-side logging fault; none seen in ordinary traffic.",
        error_rate=f"Exact match: fired for no ordinary account in {MEASURED_ON}.",
    ),
)
SHARED_NETWORK = link_kind(
    "shared_network",
    "Shared network",
    (ClauseCategory.ACCOUNT_SHARING,),
    LARGE_NETWORK_PARTIES,
    Methodology(
        definition=(
            "Two accounts whose API traffic or sign-up came from the same /24 (IPv4) or "
            "/48 (IPv6) network. Networks used by "
            f"{LARGE_NETWORK_PARTIES} or more otherwise unrelated parties (accounts not "
            "joined by a card, a key or a declared organisation) are shared "
            "infrastructure, such as cloud ranges or campus NATs, and are discounted."
        ),
        threshold=(
            f"Fewer than {LARGE_NETWORK_PARTIES} parties on the network; strong when the "
            "two accounts used the very same address, weak otherwise."
        ),
        false_positives="Households and small offices shared by unrelated people.",
        error_rate=(
            "Strong links touched up to 0.9% of ordinary accounts in the smallest worlds "
            "(a cloud range used by fewer than four parties there) and none from 4,000 "
            f"accounts up, in {MEASURED_ON}."
        ),
    ),
)
SIGNUP_BURST = link_kind(
    "signup_burst",
    "Sign-up burst",
    (ClauseCategory.ACCOUNT_SHARING,),
    BURST_MINUTES,
    Methodology(
        definition=(
            "Accounts opened from the same /24 network with the same browser signature, "
            f"each within {BURST_MINUTES} minutes of the previous one: a scripted "
            "sign-up run. The email addresses' shapes are reported alongside."
        ),
        threshold=f"Consecutive sign-ups at most {BURST_MINUTES} minutes apart.",
        false_positives=(
            "A class or a team signing up together (a declared organisation when they "
            "share an email domain)."
        ),
        error_rate=(
            "Touched 0.05% of ordinary accounts at 20,000 accounts (a sign-up in the same "
            f"cloud range and half hour as a scripted run) in {MEASURED_ON}; a lone "
            "link of this kind joins no cluster (see clusters)."
        ),
    ),
)


def payment_links(context: LinkContext) -> list[FoundLink]:
    cards: dict[str, list[str]] = defaultdict(list)
    for account_id, profile in context.profiles.items():
        if profile["payment_fingerprint"]:
            cards[profile["payment_fingerprint"]].append(account_id)
    links = []
    for card, accounts in sorted(cards.items()):
        if len(accounts) < 2:
            continue
        ordered = context.by_created(accounts)
        billing = sorted({context.profiles[a]["billing_country"] for a in accounts} - {""})
        for x, y in pairwise(ordered):
            links.append(
                context.link(
                    x,
                    y,
                    SHARED_PAYMENT.code,
                    HARD,
                    {
                        "payment_fingerprint": card,
                        "accounts_on_card": len(accounts),
                        "billing_countries": billing,
                    },
                    f"Both accounts are paid with the same payment card (fingerprint {card}), "
                    f"which pays for {len(accounts)} accounts in all.",
                )
            )
    return links


def key_sharing_links(context: LinkContext) -> list[FoundLink]:
    shared = context.activity.infra.shared_keys
    if not shared:
        return []
    issued = dict(
        ApiKey.objects.filter(key_id__in=[key for key, _, _ in shared]).values_list(
            "key_id", "account__account_id"
        )
    )
    links = []
    for key, accounts, counts in shared:
        usage = dict(zip(accounts, counts, strict=True))
        owner = issued.get(key)
        if owner not in usage:
            owner = max(accounts, key=lambda a: (usage[a], a))
        for other in accounts:
            if other == owner or other not in context.profiles:
                continue
            links.append(
                context.link(
                    owner,
                    other,
                    KEY_SHARING.code,
                    HARD,
                    {
                        "api_key_id": key,
                        "first_seen_on": owner,
                        "requests": {owner: usage[owner], other: usage[other]},
                        "accounts_using_key": len(accounts),
                    },
                    f"API key {key}, first seen on account {owner}, was used for "
                    f"{usage[other]:,} requests billed to account {other}: one credential "
                    "used by two accounts.",
                    sample_queries=[(other, "u.api_key_id = %s", [key])],
                )
            )
    return links


def parties(context: LinkContext, hard: list[FoundLink]) -> UnionFind:
    """Accounts already known to be one party: hard links and declared organisations."""
    parties = UnionFind()
    for link in hard:
        parties.union(link.a, link.b)
    first_of: dict[str, str] = {}
    for account_id, org in context.organisation.items():
        parties.union(first_of.setdefault(org, account_id), account_id)
    return parties


def network_links(context: LinkContext, parties: UnionFind) -> list[FoundLink]:
    rows = context.activity.infra.addresses
    networks: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for account_id, ip, net, bits, requests in rows:
        if account_id in context.profiles:
            network = f"{net}/{bits}"
            uses = networks[network][account_id]
            uses[ip] = uses.get(ip, 0) + requests
            if requests:
                context.ip_use.setdefault(account_id, {})[ip] = (network, requests)
    links = []
    for network, accounts in sorted(networks.items()):
        if len(accounts) < 2:
            continue
        party_count = len({parties.find(a) for a in accounts})
        if party_count >= LARGE_NETWORK_PARTIES:
            context.large_networks.add(network)
            continue  # shared infrastructure: discounted
        ordered = context.by_created(accounts)
        for x, y in pairwise(ordered):
            shared_ips = sorted(set(accounts[x]) & set(accounts[y]))
            strength = STRONG if shared_ips else WEAK
            what = (
                f"the very same address{'es' if len(shared_ips) > 1 else ''} "
                f"({', '.join(shared_ips[:3])})"
                if shared_ips
                else "different addresses in it"
            )
            links.append(
                context.link(
                    x,
                    y,
                    SHARED_NETWORK.code,
                    strength,
                    {
                        "network": network,
                        "shared_ips": shared_ips[:20],
                        "accounts_on_network": len(accounts),
                        "parties_on_network": party_count,
                        "requests": {
                            x: sum(accounts[x].values()),
                            y: sum(accounts[y].values()),
                        },
                    },
                    f"Both accounts used network {network}, {what}; only {len(accounts)} "
                    f"accounts ({party_count} unrelated "
                    f"part{'y' if party_count == 1 else 'ies'}) use that network, so it is "
                    "not shared infrastructure.",
                    sample_queries=[
                        (
                            acct,
                            "host(u.source_ip) = ANY(%s::text[])",
                            [shared_ips or list(accounts[acct])],
                        )
                        for acct in (x, y)
                    ],
                )
            )
    return links


def _email_shape(email: str) -> str:
    """The shape of an address's local part: "john.smith1234@x" -> "name.name+4 digits"."""
    local = email.split("@", 1)[0].lower()
    shape = re.sub(r"[a-z]+", "name", local)
    shape = re.sub(r"[0-9]+", lambda m: f"+{len(m.group())} digits", shape)
    return shape


def signup_burst_links(context: LinkContext) -> list[FoundLink]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for account_id, profile in context.profiles.items():
        ip, created = profile["signup_ip"], profile["created_at"]
        if not ip or not created:
            continue
        network = str(_v6_network(ip)) if ":" in ip else ".".join(ip.split(".")[:3]) + ".0/24"
        groups[(network, profile["signup_user_agent"])].append(account_id)
    gap = dt.timedelta(minutes=BURST_MINUTES)
    links = []
    for (network, agent), accounts in sorted(groups.items()):
        if len(accounts) < 2:
            continue
        ordered = context.by_created(accounts)
        runs: list[list[str]] = [[ordered[0]]]
        for previous, current in pairwise(ordered):
            created = context.profiles[current]["created_at"]
            if created - context.profiles[previous]["created_at"] <= gap:
                runs[-1].append(current)
            else:
                runs.append([current])
        for run in runs:
            if len(run) < 2:
                continue
            first = context.profiles[run[0]]["created_at"]
            last = context.profiles[run[-1]]["created_at"]
            span = (last - first).total_seconds() / 60
            for x, y in pairwise(run):
                px, py = context.profiles[x], context.profiles[y]
                minutes = (py["created_at"] - px["created_at"]).total_seconds() / 60
                shapes = {_email_shape(px["email"]), _email_shape(py["email"])}
                pattern = (
                    f" Both email addresses have the shape {next(iter(shapes))}"
                    f" ({email_domain(px['email'])}, {email_domain(py['email'])})."
                    if len(shapes) == 1 and px["email"] and py["email"]
                    else ""
                )
                links.append(
                    context.link(
                        x,
                        y,
                        SIGNUP_BURST.code,
                        STRONG,
                        {
                            "network": network,
                            "signup_user_agent": agent,
                            "created_at": [px["created_at"], py["created_at"]],
                            "minutes_apart": round(minutes, 1),
                            "burst_size": len(run),
                            "burst_minutes": round(span, 1),
                            "email_shapes": sorted(shapes),
                            "email_domains": sorted(
                                {email_domain(px["email"]), email_domain(py["email"])}
                            ),
                        },
                        f"Both accounts were opened from network {network} with the same "
                        f"browser signature, {minutes:.0f} minutes apart, in a run of "
                        f"{len(run)} sign-ups there within {span:.0f} minutes.{pattern}",
                    )
                )
    return links


def _v6_network(ip: str):
    return ipaddress.ip_network(f"{ip}/48", strict=False)
