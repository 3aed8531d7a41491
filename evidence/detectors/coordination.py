"""Coordination across the whole customer base: groups of accounts that act as one operator
although none of them stands out alone.

A light swarm (many bought identities, each an ordinary-looking customer) never fires a
per-account signal, so nothing here starts from suspects. Over every account in the window:

1. **Exit pools.** Two accounts of different parties that sent requests from the same
   addresses in two or more distinct networks, in two or more distinct places (ASN-like
   prefixes: /16 for IPv4, /32 for IPv6), took their exits from one pool. A carrier NAT, an
   office or a campus is one place, so however many of its subscribers share its few
   addresses, it never ties two of them. Ties are tested only between each account and a
   few anchors of every network it used (never all pairs of a network's users), and joined
   transitively into groups.
2. **Rarity on this population.** How often two accounts outside the groups are tied that
   way is measured on a fixed-seed sample of the run's own account pairs, and each group's
   link says it ("among the other customers, 0 of 200,000 sampled pairs").
3. **For each group, the other lines of evidence**, each with its own chance model:
   - *request shape* (client, endpoint, parameter names and values): how many members send
     the group's commonest shape, against how often the other customers send it (binomial
     tail);
   - *campaign synchrony*: how often members are active in the same ten minutes, against
     replays in which each member's own activity is shifted by whole days, which keeps its
     daily rhythm and breaks only a shared schedule;
   - *harvest at group level*: the group's aggregate output per input token, reasoning and
     grading share, token-probability requests and move to a new model, each placed among
     the other customers' accounts.
4. **Campaign banding**: a group whose ties are independent lines of coordination (two or
   more) and whose aggregate conduct is harvesting is banded from what it does together
   (see `Campaign.band`), so a group of individually light accounts can be critical.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise
from typing import Any

from django.db import connection

from evidence.detectors.activity import REQUEST_SHAPE_SQL
from evidence.detectors.group_evidence import (
    CAMPAIGN_MIN_ACCOUNTS,
    CHANCE_MAX_P,
    EXIT_MIN_NETWORKS,
    EXIT_MIN_PLACES,
    ROTATION_MIN_PLACES,
    SHAPE_MIN_SHARE,
    SYNC_BIN_SECONDS,
    SYNC_MEMBER_RATIO,
    SYNC_MIN_RATIO,
    SYNC_MIN_Z,
    SYNC_REPLAYS,
    Exits,
    Families,
    GroupConduct,
    Shapes,
    Synchrony,
)
from evidence.detectors.link_base import STRONG, WEAK, FoundLink, LinkContext, UnionFind, link_kind
from evidence.detectors.registry import Methodology
from evidence.models import Band, ClauseCategory

EXIT_POOL = link_kind(
    "shared_exit_pool",
    "Exit addresses used in turn",
    (ClauseCategory.ACCOUNT_SHARING, ClauseCategory.LIMIT_CIRCUMVENTION),
    EXIT_MIN_NETWORKS,
    Methodology(
        definition=(
            "Over every account in the window, not only those that fired a signal: two "
            "accounts of different parties tie when they sent requests from the very same "
            f"addresses in at least {EXIT_MIN_NETWORKS} networks (/24 or /48) lying in at "
            f"least {EXIT_MIN_PLACES} places (/16 or /32 prefixes, a stand-in for the "
            "operator's network); ties join into groups. How often two other customers tie "
            "is measured in the same run on a fixed-seed sample of their pairs."
        ),
        threshold=(
            f"Shared addresses in {EXIT_MIN_NETWORKS}+ networks in {EXIT_MIN_PLACES}+ "
            f"places; a group of at least {CAMPAIGN_MIN_ACCOUNTS} accounts."
        ),
        false_positives=(
            "A carrier NAT, an office or a campus is one place and never ties its users; "
            "a consumer VPN's users can tie, and then only the other lines of evidence and "
            "the group's conduct band them."
        ),
        error_rate="Stated in each link: the share of the run's other customers' pairs that tie.",
    ),
)
ROTATING_EXITS = link_kind(
    "rotating_exits",
    "Exits rotated across places",
    (ClauseCategory.ACCOUNT_SHARING, ClauseCategory.REGION),
    ROTATION_MIN_PLACES,
    Methodology(
        definition=(
            "Within a group tied by other evidence: how many members sent requests from "
            f"addresses in {ROTATION_MIN_PLACES} or more places (/16 or /32 prefixes), as a "
            "rotating proxy pool does, against the share of the run's other customers who did "
            "(binomial tail)."
        ),
        threshold=(
            f"At least half the members, with a chance probability below {CHANCE_MAX_P:g} "
            "(strong); otherwise context (weak)."
        ),
        false_positives=(
            "Travellers and mobile users change places; they are counted among the other "
            "customers, so the rate the group is compared with includes them."
        ),
        error_rate="Stated in each link: the share of other customers who rotate.",
    ),
)
REQUEST_SHAPE = link_kind(
    "shared_request_shape",
    "One request shape across a group",
    (ClauseCategory.ACCOUNT_SHARING,),
    CHANCE_MAX_P,
    Methodology(
        definition=(
            "Within a group tied by other evidence: the client, endpoint and parameter names "
            "and values the members mostly send, and how many members send the group's "
            "commonest one, against the share of the run's other customers who send it "
            "(binomial tail)."
        ),
        threshold=(
            f"At least {SHAPE_MIN_SHARE:.0%} of the members, with a chance probability below "
            f"{CHANCE_MAX_P:g} (strong); otherwise recorded as context (weak)."
        ),
        false_positives=(
            "Users of one popular app send its shape; it is common in the population, so the "
            "chance probability stays high, and a shape alone never joins accounts."
        ),
        error_rate="Stated in each link: the share of other customers who send the shape.",
    ),
)
PROMPT_FAMILY = link_kind(
    "prompt_family",
    "One family of prompt openings across a group",
    (ClauseCategory.ACCOUNT_SHARING, ClauseCategory.OUTPUT_EXTRACTION),
    CHANCE_MAX_P,
    Methodology(
        definition=(
            "Within a group tied by other evidence: the family of near-duplicate prompt "
            "openings (paraphrases of one scaffold, joined by MinHash sketches with "
            "locality-sensitive hashing, `families`) used by the most members, against the "
            "share of the run's other customers who use it (binomial tail)."
        ),
        threshold=(
            f"At least half the members, with a chance probability below {CHANCE_MAX_P:g} "
            "(strong); otherwise context (weak)."
        ),
        false_positives=(
            "Users of one app share its scaffold; so do many other customers, so the chance "
            "probability stays high."
        ),
        error_rate="Stated in each link: the share of other customers using the family.",
    ),
)
CAMPAIGN_SYNCHRONY = link_kind(
    "campaign_synchrony",
    "Campaign waves",
    (ClauseCategory.ACCOUNT_SHARING, ClauseCategory.LIMIT_CIRCUMVENTION),
    SYNC_MIN_Z,
    Methodology(
        definition=(
            "Within a group tied by other evidence: the number of pairs of members active in "
            f"the same {SYNC_BIN_SECONDS // 60}-minute intervals, against {SYNC_REPLAYS} "
            "replays in which each member's own activity is shifted by one to three whole "
            "days, which keeps each account's daily rhythm and breaks only a shared schedule."
        ),
        threshold=(
            f"At least {SYNC_MIN_RATIO:g} times the replays' mean and {SYNC_MIN_Z:g} standard "
            f"deviations above it; a member takes part at {SYNC_MEMBER_RATIO:g} times its own "
            "replays."
        ),
        false_positives=(
            "Customers driven by one public event (a release, an outage) move together on "
            "that day; a shift of one to three days keeps most of such a trend in the "
            "replays."
        ),
        error_rate="Stated in each link: the replays' mean, spread and maximum.",
    ),
)


@dataclass
class Campaign:
    """A group that acts as one operator, the lines of evidence tying it, and its conduct."""

    accounts: list[str]
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)
    conduct: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def coordinated(self) -> list[str]:
        """The lines of coordination that would hardly arise by chance."""
        return [code for code, line in self.lines.items() if line.get("significant")]

    @property
    def harvesting(self) -> list[str]:
        return sorted(code for code, measure in self.conduct.items() if measure.get("beyond"))

    @property
    def band(self) -> str:
        """Critical: two or more independent lines of coordination and two or more harvest
        measures beyond the other customers; high: two lines and one measure, or three
        lines; review: any group at all."""
        lines, harvest = len(self.coordinated), len(self.harvesting)
        if lines >= 2 and harvest >= 2:
            return Band.CRITICAL
        if lines >= 2 and (harvest >= 1 or lines >= 3):
            return Band.HIGH
        return Band.REVIEW

    def summary(self) -> dict[str, Any]:
        return {
            "size": len(self.accounts),
            "band": str(self.band),
            "coordination": self.coordinated,
            "harvesting": self.harvesting,
            "lines": self.lines,
            "conduct": self.conduct,
        }

    def sentence(self) -> str:
        parts = [self.lines[code]["sentence"] for code in self.coordinated]
        parts += [self.conduct[code]["sentence"] for code in self.harvesting]
        head = (
            f"Acting together, {len(self.accounts)} accounts that each look ordinary. "
            if parts
            else f"{len(self.accounts)} accounts tied by one line of evidence only. "
        )
        return head + " ".join(parts)


def campaigns_find(
    context: LinkContext, parties: UnionFind, db=connection, lap=lambda phase: None
) -> tuple[list[FoundLink], list[Campaign]]:
    """Every campaign in the population, and the links that state its ties.

    Groups are seeded two ways. *By exits*: accounts tied by shared exits; an account too
    light to share two exits with any one member joins when it sent most of its requests
    through the pool *and* a second line ties it (it sends the group's rare request shape, or
    moves with the group's schedule). *By request shape*: the accounts of three or more
    parties that mostly send one shape; those that also move with the senders' schedule or
    rotate their exits across places form the group, so an app's unrelated users (one shape,
    their own rhythms and addresses) do not.
    """
    exits = Exits(context, parties)
    shapes = Shapes(context)
    cores = exits.groups()
    in_core = {a for core in cores for a in core}
    candidates: list[dict[str, set[str]]] = []
    claimed: set[str] = set(in_core)
    mains: list[str | None] = []
    for core in cores:
        main = shapes.significant_main(core, in_core)
        mains.append(main)
        found = {a: {EXIT_POOL.code} for a in exits.pool_users(exits.pool(core), exclude=claimed)}
        for account_id in shapes.senders(main, exclude=claimed):
            found.setdefault(account_id, set()).add(REQUEST_SHAPE.code)
        for account_id, lines in found.items():
            if exits.rotating(account_id):
                lines.add(ROTATING_EXITS.code)
        claimed.update(found)
        candidates.append(found)
    seeds = shapes.shared(parties, exclude=claimed)
    lap("campaigns.exits")
    rhythm = Synchrony(context, sorted(claimed.union(*seeds)), db)
    lap("campaigns.minutes")
    groups: list[tuple[list[str], bool]] = []  # (accounts, seeded by exits)
    for core, found, main in zip(cores, candidates, mains, strict=True):
        attached = []
        moving = rhythm.taking_part([a for a, lines in found.items() if len(lines) < 2], core)
        shape_only = [a for a, lines in found.items() if REQUEST_SHAPE.code in lines]
        signature = _signature(sum(shapes.main.get(a) == main for a in core), len(shape_only))
        for account_id, lines in sorted(found.items()):
            if account_id in moving:
                lines.add(CAMPAIGN_SYNCHRONY.code)
            # Two independent lines tie each member, or the group's signature shape does.
            if len(lines) >= 2 or (signature and REQUEST_SHAPE.code in lines):
                attached.append(account_id)
        groups.append((sorted(core + attached), True))
    families = Families(context, db)
    # Each group with the accounts its lines are measured on: for a group seeded by exits,
    # the accounts the exits tied (the others joined because of lines); for one seeded by a
    # request shape, every sender of the shape (its members were picked by lines).
    measured: list[list[str]] = [core for core in cores]
    seeded: list[str] = [EXIT_POOL.code] * len(groups)
    taken = {a for group, _ in groups for a in group}
    for senders in seeds:
        senders = [a for a in senders if a not in taken]
        if not _spread(senders, parties):
            continue
        # Decided on all the senders, never on those picked for moving or rotating together:
        # a test on accounts chosen for passing it proves nothing.
        others = taken | set(senders)
        tests = (
            partial(exits.rotation_line, senders, others),
            partial(families.line, senders, others),
            partial(rhythm.line, senders),  # the costly one: last, and only when it decides
        )
        if not _two_significant(tests):
            continue
        moving = rhythm.taking_part(senders, senders)
        core = [a for a in senders if exits.rotating(a) or a in moving]
        group = senders if _signature(len(core), len(senders) - len(core)) else core
        groups.append((group, False))
        measured.append(senders)
        seeded.append(REQUEST_SHAPE.code)
        taken.update(group)
    # A group most of whose accounts are one party (a card, a declared organisation) hides
    # nobody: that party's accounts are attributed to it already.
    kept = [i for i, (group, _) in enumerate(groups) if _spread(group, parties)]
    if not kept:
        return [], []
    members_all = {a for i in kept for a in groups[i][0]}
    lap("campaigns.groups")
    background = exits.background(members_all)
    population = GroupConduct(context, members_all)
    links: list[FoundLink] = []
    campaigns: list[Campaign] = []
    for i in kept:
        group, on, seed = groups[i][0], measured[i], seeded[i]
        campaign = Campaign(accounts=group)
        lines = {
            EXIT_POOL.code: (
                exits.line(group, exits.pool(group), background) if seed == EXIT_POOL.code else None
            ),
            ROTATING_EXITS.code: exits.rotation_line(on, members_all),
            REQUEST_SHAPE.code: shapes.line(on, members_all),
            PROMPT_FAMILY.code: families.line(on, members_all),
            CAMPAIGN_SYNCHRONY.code: rhythm.line(on),
        }
        seed_line = lines.get(seed)
        if seed == REQUEST_SHAPE.code and seed_line:
            # The shape found the group: it is how the group was chosen, not evidence of it.
            seed_line["significant"] = False
            seed_line["sentence"] += " (The group was found through this shape; it is not counted.)"
        campaign.conduct = population.conduct(group)
        campaigns.append(campaign)
        for code, line in lines.items():
            if not line:
                continue
            shape = line.pop("shape_full", None)
            line.pop("members", None)
            campaign.lines[code] = line
            strength = STRONG if line["significant"] else WEAK
            samples = None
            if code == EXIT_POOL.code:
                samples = exits.samples_in(group)
            elif shape is not None:
                samples = _shape_samples(shape)
            accounts = _showing(code, group, line, exits, shapes, families, rhythm, shape)
            links += _chain(context, accounts, code, strength, line, samples)
    lap("campaigns.lines")
    return links, campaigns


def _showing(code, group, line, exits, shapes, families, rhythm, shape) -> list[str]:
    """The group's accounts that show a line (the links chain through them only)."""
    if code == ROTATING_EXITS.code:
        return [a for a in group if exits.rotating(a)]
    if code == REQUEST_SHAPE.code:
        return [a for a in group if shapes.main.get(a) == shape]
    if code == PROMPT_FAMILY.code:
        return [a for a in group if line["family"] in families.of_account.get(a, ())]
    if code == CAMPAIGN_SYNCHRONY.code:
        return sorted(rhythm.taking_part(group, group))
    return group


def _two_significant(tests) -> bool:
    """Whether two or more of the lines are significant, working out only as many as decide
    it (a seed's synchrony replays cost more than the other two lines together)."""
    passed = failed = 0
    for test in tests:
        line = test()
        if line and line["significant"]:
            passed += 1
        else:
            failed += 1
        if passed >= 2 or failed > len(tests) - 2:
            break
    return passed >= 2


def _spread(accounts: list[str], parties: UnionFind) -> bool:
    """Whether the accounts belong to three or more parties, none holding half of them."""
    sizes = Counter(parties.find(a) for a in accounts)
    return len(sizes) >= 3 and 2 * max(sizes.values()) <= len(accounts)


def _signature(tied: int, others: int) -> bool:
    """Whether a request shape is a proven group's signature: no fewer of its senders are
    tied to the group by two lines than are not. Its other senders then join on the shape
    alone: a client and parameter set that no customer outside the group sends is as telling
    as a shared prompt template. An app's unrelated users, most of them tied by nothing,
    never make their app's shape a signature."""
    return tied >= CAMPAIGN_MIN_ACCOUNTS and tied >= others


def _shape_samples(shape: str):
    """Exhibits for a request-shape link: each account's requests of that very shape."""

    def samples(x: str, y: str) -> list:
        return [(a, f"{REQUEST_SHAPE_SQL} = %s", [shape]) for a in (x, y)]

    return samples


def _chain(context, accounts, kind, strength, line, samples) -> list[FoundLink]:
    """A spanning chain of links through the group (by sign-up), each naming the group."""
    ordered = context.by_created(accounts)
    evidence = {k: v for k, v in line.items() if k != "sentence"}
    links = []
    for x, y in pairwise(ordered):
        links.append(
            context.link(
                x,
                y,
                kind,
                strength,
                {**evidence, "group_size": len(ordered)},
                line["sentence"],
                sample_queries=samples(x, y) if samples else [],
            )
        )
    return links
