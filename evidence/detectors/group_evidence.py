"""The lines of evidence measured on a group of accounts, each against the run's own
population: shared exits, exits rotated across places, one request shape, one family of
prompt openings, one schedule, and the group's harvest measures. `coordination` forms the
groups and bands them; this module says how each line is measured and how rare it is.
"""

from __future__ import annotations

import ipaddress
import math
import random
from collections import Counter, defaultdict
from functools import cached_property
from typing import Any

import numpy as np

from evidence.detectors.link_base import LinkContext, UnionFind

# A tie needs shared addresses in at least this many networks (/24, /48) ...
EXIT_MIN_NETWORKS = 2
# ... lying in at least this many places (/16, /32): one NAT or office is one place.
EXIT_MIN_PLACES = 2
# Anchors kept per network: each user is tested against at most this many.
EXIT_ANCHORS = 4
# An account rotates its exits when its requests left from this many places or more.
ROTATION_MIN_PLACES = 3
# A request shape seeds a group when it is the main shape of at most this share of accounts
# (a popular SDK's defaults are everyone's shape and seed nothing).
SHAPE_SEED_MAX_SHARE = 0.25
# Smallest group worth describing as a campaign.
CAMPAIGN_MIN_ACCOUNTS = 3
# Pairs sampled from the population to measure how rare a tie is among other customers.
BACKGROUND_PAIRS = 100_000
# Request shape: the commonest shape must be at least this share of members' main shape,
# with a chance probability below this.
SHAPE_MIN_SHARE = 0.5
CHANCE_MAX_P = 1e-6
# Synchrony: ten-minute intervals; replays shift each member by whole days, up to this many.
SYNC_BIN_SECONDS = 600
SYNC_SHIFT_DAYS = (-3, -2, -1, 1, 2, 3)
SYNC_REPLAYS = 30
SYNC_MIN_RATIO = 2.0
SYNC_MIN_Z = 6.0
# A member takes part in the synchrony when its own co-activity is this multiple of its
# replays' mean.
SYNC_MEMBER_RATIO = 1.5
RNG_SEED = 16  # fixed: a run reproduces, and so does its digest


# --- exit pools ----------------------------------------------------------------------------


def _place(network: str) -> str:
    """The ASN-like prefix of a /24 or /48 network: its /16 (IPv4) or /32 (IPv6)."""
    address = network.split("/", 1)[0]
    if ":" in address:
        return str(ipaddress.IPv6Network(f"{address}/32", strict=False))
    return ".".join(address.split(".")[:2]) + ".0.0/16"


class Exits:
    def __init__(self, context: LinkContext, parties: UnionFind) -> None:
        self.context = context
        self.parties = parties
        # account -> {address: network}, account -> {address: requests}; network -> place
        self.addresses: dict[str, dict[str, str]] = defaultdict(dict)
        self.requests: dict[str, dict[str, int]] = defaultdict(dict)
        self.users: dict[str, list[str]] = defaultdict(list)
        self.place: dict[str, str] = {}
        profiles = context.profiles
        for account_id, ip, net, bits, requests in context.activity.infra.addresses:
            if requests and account_id in profiles:
                network = f"{net}/{bits}"
                self.addresses[account_id][ip] = network
                self.requests[account_id][ip] = requests
                self.users[ip].append(account_id)
                if network not in self.place:
                    self.place[network] = _place(network)

    def shared(self, x: str, y: str) -> list[str]:
        ax, ay = self.addresses[x], self.addresses[y]
        if len(ax) > len(ay):
            ax, ay = ay, ax
        return [ip for ip in ax if ip in ay]

    def tie(self, x: str, y: str) -> bool:
        if self.parties.find(x) == self.parties.find(y):
            return False  # one party: a company's own accounts are not a pool
        shared = self.shared(x, y)
        if len(shared) < EXIT_MIN_NETWORKS:
            return False
        networks = {self.addresses[x][ip] for ip in shared}
        places = {self.place[n] for n in networks}
        return len(networks) >= EXIT_MIN_NETWORKS and len(places) >= EXIT_MIN_PLACES

    def groups(self) -> list[list[str]]:
        """Tied accounts joined transitively. Each address's users are tested against a few
        anchors only (those already tied to someone come first), so the work grows with the
        (account, address) rows, never with the square of an address's users."""
        joined = UnionFind()
        tied: set[str] = set()
        pk = self.context.profiles
        for ip in sorted(self.users):
            users = sorted(set(self.users[ip]), key=lambda a: pk[a]["pk"])
            if len(users) < 2:
                continue
            anchors: list[str] = []
            for account_id in users:
                for anchor in anchors:
                    if joined.find(anchor) != joined.find(account_id) and self.tie(
                        anchor, account_id
                    ):
                        joined.union(anchor, account_id)
                        tied.update((anchor, account_id))
                if len(anchors) < EXIT_ANCHORS and not any(
                    joined.find(a) == joined.find(account_id) for a in anchors
                ):
                    anchors.append(account_id)
        members: dict[str, list[str]] = defaultdict(list)
        for account_id in tied:
            members[joined.find(account_id)].append(account_id)
        return sorted(
            (sorted(group) for group in members.values() if len(group) >= CAMPAIGN_MIN_ACCOUNTS),
            key=lambda group: (-len(group), group[0]),
        )

    def rotating(self, account_id: str) -> bool:
        """Whether the account's requests left from addresses in several places: what a
        rotating proxy does, and what an ordinary customer (home, office, phone) rarely does."""
        return account_id in self._rotating

    @cached_property
    def _rotating(self) -> set[str]:
        return {
            account_id
            for account_id, addresses in self.addresses.items()
            if len({self.place[n] for n in addresses.values()}) >= ROTATION_MIN_PLACES
        }

    def rotation_line(self, group: list[str], members_all: set[str]) -> dict[str, Any] | None:
        rotating = sorted(a for a in group if self.rotating(a))
        if len(rotating) < 2:
            return None
        others = len(self.addresses) - sum(1 for a in members_all if a in self.addresses)
        outside = len(self._rotating) - sum(1 for a in members_all if self.rotating(a))
        p = (outside + 1) / (others + 2)
        chance = binomial_tail(len(rotating), len(group), p)
        significant = len(rotating) / len(group) >= 0.5 and chance < CHANCE_MAX_P
        return {
            "significant": significant,
            "members_rotating": len(rotating),
            "members": rotating,
            "other_customers_rotating": outside,
            "other_customers": others,
            "chance_probability": float(f"{chance:.3g}"),
            "sentence": (
                f"{len(rotating)} of the {len(group)} accounts sent requests from addresses in "
                f"{ROTATION_MIN_PLACES} or more places, as a rotating proxy does; {outside:,} "
                f"of the other {others:,} customers did: the chance that as many members "
                f"would by coincidence is {probability_words(chance)}."
            ),
        }

    def pool(self, core: list[str]) -> set[str]:
        """The addresses the core's accounts used."""
        return {ip for a in core for ip in self.addresses[a]}

    def pool_users(self, pool: set[str], *, exclude: set[str]) -> dict[str, float]:
        """Accounts (outside `exclude`) that sent at least half their requests through the
        pool, with that share."""
        pooled: Counter = Counter()
        for ip in pool:
            for account_id in set(self.users[ip]):
                if account_id not in exclude:
                    pooled[account_id] += self.requests[account_id][ip]
        shares = {}
        for account_id, requests in pooled.items():
            share = requests / sum(self.requests[account_id].values())
            if share >= 0.5:
                shares[account_id] = share
        return shares

    def background(self, members: set[str]) -> dict[str, Any]:
        """How often two accounts outside every group tie, on a fixed-seed sample of pairs."""
        others = sorted(a for a in self.addresses if a not in members)
        n = len(others)
        possible = n * (n - 1) // 2
        rng = random.Random(RNG_SEED)
        sampled = hits = 0
        if possible:
            draws = min(BACKGROUND_PAIRS, possible)
            for _ in range(draws):
                i, j = rng.randrange(n), rng.randrange(n)
                if i == j:
                    continue
                sampled += 1
                hits += self.tie(others[i], others[j])
        return {"accounts": n, "pairs_sampled": sampled, "pairs_tied": hits}

    def line(self, group: list[str], pool: set[str], background: dict[str, Any]) -> dict:
        networks = {self.addresses[a][ip] for a in group for ip in self.addresses[a] if ip in pool}
        places = {self.place[n] for n in networks}
        requests = sum(sum(self.requests[a].values()) for a in group)
        through = sum(n for a in group for ip, n in self.requests[a].items() if ip in pool)
        countries = {self.context.profiles[a]["country"] or "?" for a in group}
        cards = {self.context.profiles[a].get("payment_fingerprint") or "?" for a in group}
        sampled, hits = background["pairs_sampled"], background["pairs_tied"]
        if sampled and hits:
            rate = f"{hits / sampled:.3%} of {sampled:,} sampled pairs of the other customers tie"
        elif sampled:
            rate = (
                f"none of {sampled:,} sampled pairs of the other {background['accounts']:,} "
                f"customers tie (under {1 / sampled:.4%})"
            )
        else:
            rate = "there are too few other customers to measure how rare this is"
        sentence = (
            f"{len(group)} accounts of {len(countries)} declared countries and "
            f"{len(cards)} payment cards sent requests from {len(pool)} addresses they used "
            f"in turn, in {len(networks)} networks in {len(places)} places "
            f"({through / requests:.0%} of their {requests:,} requests). Two accounts tie when "
            f"they share addresses in two networks in two places: {rate}."
        )
        return {
            "significant": True,
            "pool_addresses": len(pool),
            "requests_through_pool": through,
            "networks": len(networks),
            "places": len(places),
            "declared_countries": len(countries),
            "payment_cards": len(cards),
            "background": background,
            "pool_sample": sorted(pool, key=ipaddress.ip_address)[:20],
            "sentence": sentence,
        }

    def samples_in(self, group: list[str]):
        """Exhibits for a link of the group: each account's requests from addresses that
        another member used too."""
        used = Counter(ip for a in group for ip in self.addresses[a])

        def samples(x: str, y: str) -> list:
            queries = []
            for account_id in (x, y):
                shared = sorted(ip for ip in self.addresses[account_id] if used[ip] >= 2)
                if shared:
                    queries.append(
                        (account_id, "host(u.source_ip) = ANY(%s::text[])", [shared[:10]])
                    )
            return queries

        return samples


# --- request shape -------------------------------------------------------------------------


class Shapes:
    def __init__(self, context: LinkContext) -> None:
        per: dict[str, Counter] = defaultdict(Counter)
        for account_id, shape, requests in context.activity.infra.shapes:
            per[account_id][shape or ""] += requests
        self.main = {a: shapes.most_common(1)[0][0] for a, shapes in per.items() if shapes}
        self.users = Counter(self.main.values())
        self.accounts = len(self.main)

    def shared(self, parties: UnionFind, *, exclude: set[str]) -> list[list[str]]:
        """The senders (outside `exclude`) of each request shape that is the main shape of
        accounts of three or more parties, but not of so many that it is a common default."""
        senders: dict[str, list[str]] = defaultdict(list)
        for account_id, shape in self.main.items():
            if shape and account_id not in exclude:
                senders[shape].append(account_id)
        most = SHAPE_SEED_MAX_SHARE * self.accounts
        return [
            sorted(accounts)
            for shape, accounts in sorted(senders.items())
            if CAMPAIGN_MIN_ACCOUNTS <= len(accounts) <= most
            and len({parties.find(a) for a in accounts}) >= 3
        ]

    def significant_main(self, group: list[str], members_all: set[str]) -> str | None:
        """The group's commonest request shape, when so many members sharing it is no chance."""
        line = self.line(group, members_all)
        return line["shape_full"] if line and line["significant"] else None

    def senders(self, shape: str | None, *, exclude: set[str]) -> list[str]:
        if shape is None:
            return []
        return [a for a, main in self.main.items() if main == shape and a not in exclude]

    def line(self, group: list[str], members_all: set[str]) -> dict[str, Any] | None:
        present = [a for a in group if a in self.main]
        if not present:
            return None
        shape, count = Counter(self.main[a] for a in present).most_common(1)[0]
        sharing = sorted(a for a in present if self.main[a] == shape)
        if count < 2 or not shape:
            return None
        inside = Counter(self.main[a] for a in members_all if a in self.main)
        outside_total = self.accounts - sum(inside.values())
        outside = self.users[shape] - inside[shape]
        # Laplace's rule: a shape no other customer sends is not given probability zero.
        p = (outside + 1) / (outside_total + 2)
        chance = binomial_tail(count, len(present), p)
        significant = count / len(present) >= SHAPE_MIN_SHARE and chance < CHANCE_MAX_P
        return {
            "significant": significant,
            "shape": shape[:300],
            "shape_full": shape,
            "members_sending": count,
            "members": sharing,
            "other_customers_sending": outside,
            "other_customers": outside_total,
            "chance_probability": float(f"{chance:.3g}"),
            "sentence": (
                f"{count} of the {len(present)} accounts mostly send one request shape "
                f"({_short(shape)}); {outside:,} of the other {outside_total:,} customers "
                f"send it: the chance that as many members would share it by coincidence is "
                f"{probability_words(chance)}."
            ),
        }


def _short(shape: str) -> str:
    return shape if len(shape) <= 120 else shape[:117] + "..."


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in logs (n may be thousands)."""
    if k <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def probability_words(p: float) -> str:
    if p < 1e-12:
        return "below one in a trillion"
    if p >= 0.01:
        return f"{p:.2f}"
    return f"about 1 in {1 / p:,.0f}"


# --- prompt families ----------------------------------------------------------------------


class Families:
    """Which prompt families (`families`) each account used, read once from the run's
    (account, template) table."""

    def __init__(self, context: LinkContext, db) -> None:
        self.accounts = len(context.activity.accounts)
        self.of_account: dict[str, set[int]] = defaultdict(set)
        families = context.activity.infra.families
        if families:
            with db.cursor() as cursor:
                cursor.execute(
                    "CREATE TEMP TABLE det_family (template text, family bigint) ON COMMIT DROP"
                )
                with cursor.cursor.copy("COPY det_family (template, family) FROM STDIN") as copy:
                    for row in families.items():
                        copy.write_row(row)
                cursor.execute("ANALYZE det_family")  # a hash join, not a sort of both sides
                cursor.execute(
                    "SELECT t.account_id, f.family FROM det_template t "
                    "JOIN det_family f USING (template) GROUP BY 1, 2"
                )
                for account_id, family in cursor.fetchall():
                    self.of_account[account_id].add(family)
                cursor.execute("DROP TABLE det_family")
        self.users = Counter(f for used in self.of_account.values() for f in used)

    def line(self, group: list[str], members_all: set[str]) -> dict[str, Any] | None:
        used = Counter(f for a in group for f in self.of_account.get(a, ()))
        if not used:
            return None
        family, count = min(used.items(), key=lambda item: (-item[1], item[0]))
        if count < 2:
            return None
        inside = sum(1 for a in members_all if family in self.of_account.get(a, ()))
        outside = self.users[family] - inside
        others = self.accounts - len(members_all)
        p = (outside + 1) / (others + 2)
        chance = binomial_tail(count, len(group), p)
        return {
            "significant": count / len(group) >= 0.5 and chance < CHANCE_MAX_P,
            "family": family,
            "members_using": count,
            "members": sorted(a for a in group if family in self.of_account.get(a, ())),
            "other_customers_using": outside,
            "other_customers": others,
            "chance_probability": float(f"{chance:.3g}"),
            "sentence": (
                f"{count} of the {len(group)} accounts used one family of near-duplicate "
                f"prompt openings; {outside:,} of the other {others:,} customers did: the "
                f"chance that as many members would by coincidence is "
                f"{probability_words(chance)}."
            ),
        }


# --- synchrony -----------------------------------------------------------------------------


class Synchrony:
    """Members' active ten-minute intervals, read once for every group through the
    (account, ts) index."""

    def __init__(self, context: LinkContext, accounts: list[str], db) -> None:
        window = context.activity.window
        self.first = int(window.start.timestamp()) // SYNC_BIN_SECONDS
        last = int(window.end.timestamp()) // SYNC_BIN_SECONDS
        per_day = 86_400 // SYNC_BIN_SECONDS
        # Whole days, so a shift by days wraps onto the same time of day.
        self.length = max(per_day, -(-(last - self.first + 1) // per_day) * per_day)
        self.per_day = per_day
        self.bins: dict[str, np.ndarray] = {}
        with db.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT u.account_id, array_agg(DISTINCT
                  (extract(epoch FROM u.ts)::bigint / {SYNC_BIN_SECONDS})::int)
                FROM evidence_usageevent u
                WHERE u.account_id = ANY(%(accounts)s) AND {window.sql}
                GROUP BY u.account_id
                """,
                {"accounts": sorted(accounts), **window.params},
            )
            for account_id, bins in cursor.fetchall():
                self.bins[account_id] = np.asarray(bins, dtype=np.int64) - self.first

    def taking_part(self, accounts: list[str], group: list[str]) -> set[str]:
        """The accounts active when the group is far more often than their own activity
        shifted by whole days would be (a member of the group is not its own company)."""
        present = [a for a in group if a in self.bins]
        counts = np.bincount(
            np.concatenate([self.bins[a] for a in present]) % self.length
            if present
            else np.zeros(0, dtype=np.int64),
            minlength=self.length,
        )
        members = set(group)
        tested = [a for a in accounts if a in self.bins and len(self.bins[a])]
        if not tested:
            return set()
        owner = np.concatenate([np.full(len(self.bins[a]), i) for i, a in enumerate(tested)])
        bins = np.concatenate([self.bins[a] for a in tested]) % self.length
        inside = np.asarray([a in members for a in tested])[owner]
        keys = owner * self.length + bins  # sorted: each account's bins are distinct, ascending

        def company(at: np.ndarray) -> np.ndarray:
            alone = inside & np.isin(owner * self.length + at, keys)
            return np.bincount(owner, weights=counts[at] - alone, minlength=len(tested))

        own = company(bins)
        shifted = np.mean(
            [company((bins + days * self.per_day) % self.length) for days in SYNC_SHIFT_DAYS],
            axis=0,
        )
        chosen = own >= SYNC_MEMBER_RATIO * np.maximum(shifted, 1.0)
        return {a for a, yes in zip(tested, chosen, strict=True) if yes}

    def line(self, group: list[str]) -> dict[str, Any] | None:
        present = [a for a in group if a in self.bins and len(self.bins[a])]
        if len(present) < CAMPAIGN_MIN_ACCOUNTS:
            return None
        owner = np.concatenate([np.full(len(self.bins[a]), i) for i, a in enumerate(present)])
        bins = np.concatenate([self.bins[a] for a in present]) % self.length
        observed_counts = np.bincount(bins, minlength=self.length)
        observed = int((observed_counts * (observed_counts - 1) // 2).sum())
        rng = np.random.default_rng(RNG_SEED)
        shifts_allowed = np.asarray(SYNC_SHIFT_DAYS) * self.per_day
        # Each replay's shift per member, drawn one replay after another (the run's draws).
        shifts = np.stack(
            [rng.choice(shifts_allowed, size=len(present)) for _ in range(SYNC_REPLAYS)]
        )
        # Every replay's intervals counted in one pass: replay r's bins are offset by r * length.
        moved = (bins + shifts[:, owner]) % self.length
        moved += np.arange(SYNC_REPLAYS)[:, None] * self.length
        counts = np.bincount(moved.ravel(), minlength=SYNC_REPLAYS * self.length)
        counts = counts.reshape(SYNC_REPLAYS, self.length)
        replays = (counts * (counts - 1) // 2).sum(axis=1).tolist()
        mean = float(np.mean(replays))
        spread = float(np.std(replays)) or 1.0
        z = (observed - mean) / spread
        ratio = observed / mean if mean else math.inf
        significant = ratio >= SYNC_MIN_RATIO and z >= SYNC_MIN_Z
        taking_part = sorted(self.taking_part(present, present))
        minutes = SYNC_BIN_SECONDS // 60
        return {
            "significant": significant and len(taking_part) >= CAMPAIGN_MIN_ACCOUNTS,
            "interval_minutes": minutes,
            "pairs_active_together": observed,
            "replays": SYNC_REPLAYS,
            "replay_mean": round(mean, 1),
            "replay_max": max(replays),
            "standard_deviations": round(z, 1),
            "members_taking_part": len(taking_part),
            "members": taking_part,
            "sentence": (
                f"Members were active in the same {minutes}-minute intervals {observed:,} "
                f"times (counted in pairs); shifting each member's own activity by one to "
                f"three whole days, which keeps its daily rhythm, gave {mean:,.0f} on average "
                f"and at most {max(replays):,} in {SYNC_REPLAYS} replays ({ratio:.1f} times, "
                f"{z:.0f} standard deviations); {len(taking_part)} members move with the "
                "group's schedule."
            ),
        }


# --- conduct of the group ------------------------------------------------------------------


class GroupConduct:
    """A group's harvest measures against random groups of the same size drawn from the
    other customers: an aggregate of many accounts is compared with aggregates of as many
    ordinary ones, never with single accounts (a group's sum is steadier than any member)."""

    MEASURES = {
        "output_per_input": "output tokens per input token",
        "reasoning_share": "share of prompts asking for reasoning traces",
        "grader_share": "share of prompts asking to grade or compare answers",
        "token_probability_share": "share of requests asking for token probabilities",
        "new_model_share": "share of tokens on a newly released model in its second day",
    }
    DRAWS = 200
    # A measure stands out when it is above every draw and this multiple of their mean.
    MATERIAL = 1.25

    def __init__(self, context: LinkContext, members: set[str]) -> None:
        self.accounts = context.activity.accounts
        others = [row for a, row in self.accounts.items() if a not in members]
        self.others = {name: _values(others, name) for name in self.MEASURES}
        self.rng = np.random.default_rng(RNG_SEED)

    def conduct(self, group: list[str]) -> dict[str, dict[str, Any]]:
        rows = [self.accounts[a] for a in group if a in self.accounts]
        result = {}
        for name in self.MEASURES:
            values, others = _values(rows, name), self.others[name]
            if not len(values) or not len(others):
                continue
            # The median member: each account counts once, however much it sent, so a few
            # heavy or odd accounts neither make nor hide a group's conduct. Random groups are
            # drawn with replacement (a bootstrap of the other customers).
            value = float(np.median(values))
            picks = self.rng.integers(0, len(others), size=(self.DRAWS, len(values)))
            draws = np.median(others[picks], axis=1)
            mean, most = float(draws.mean()), float(draws.max())
            beyond = value > most and value >= self.MATERIAL * mean
            result[name] = {
                "value": round(value, 4),
                "members_measured": len(values),
                "random_groups_mean": round(mean, 4),
                "random_groups_max": round(most, 4),
                "random_groups": self.DRAWS,
                "beyond": beyond,
                "sentence": (
                    f"The median member's {self.MEASURES[name]} is {_figure(name, value)}; "
                    f"in {self.DRAWS} random groups of as many other customers it is "
                    f"{_figure(name, mean)} on average and at most {_figure(name, most)}."
                ),
            }
        return result


def _values(rows: list[dict[str, Any]], name: str) -> np.ndarray:
    """One harvest measure for each account that has a denominator for it."""
    pairs = [_parts(row)[name] for row in rows]
    return np.asarray([top / bottom for top, bottom in pairs if bottom], dtype=float)


def _figure(name: str, value: float) -> str:
    return f"{value:.2f}" if name == "output_per_input" else f"{value:.1%}"


def _parts(row: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Each harvest measure of one account as (numerator, denominator): a group's measure is
    the sum of its numerators over the sum of its denominators."""
    releases = row.get("releases", ())
    prompted = row.get("prompted", 0)
    return {
        "output_per_input": (row["output_tokens"], row["input_tokens"]),
        "reasoning_share": (row.get("reasoning", 0), prompted),
        "grader_share": (row.get("grader", 0), prompted),
        "token_probability_share": (row["harvest_requests"], row["requests"]),
        "new_model_share": (
            sum(r["new_tokens"] for r in releases),
            sum(r["tokens"] for r in releases),
        ),
    }
