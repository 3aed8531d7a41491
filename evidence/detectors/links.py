"""Links: why two "separate" accounts may be one actor, each with its evidence.

Strength is a statement about proof, not suspicion: a *hard* link (a shared card, one API
key used by two accounts) shows common control on its own; a *strong* link (sign-ups in
one burst, the same harvesting prompts, activity in lockstep) makes it probable; a *weak*
link is context and never joins a cluster. Links between accounts that openly belong to
one organisation are marked `declared`: a company may run several accounts on one card.

Where many accounts share one attribute (a card paying for 40 accounts), a spanning chain
of links is stored rather than every pair: the evidence of each link names the whole group,
and the cluster is the same.

This module runs the finders and merges what they find. The finders live by subject:
`identity` (cards, keys, networks, sign-ups), `prompts` (shared prompts, proxy routing)
and `timing` (synchronised activity, rate-limit hand-offs); what they share with this
module (found links, their context, kinds and strengths) is in `link_base`.
"""

from __future__ import annotations

from collections import defaultdict

from evidence.detectors import coordination, identity, prompts, timing
from evidence.detectors.activity import Activity, SideWork
from evidence.detectors.exhibits import samples_fetch, samples_of
from evidence.detectors.link_base import HARD, STRONG, WEAK, FoundLink, LinkContext


def links_find(
    activity: Activity, *, suspects: set[str], clock=None
) -> tuple[list[FoundLink], list[coordination.Campaign]]:
    """Every link of every kind, from the temporary tables of `activity_collect`, and the
    campaigns found over the whole population (`coordination`)."""
    lap = clock.lap if clock is not None else (lambda phase: None)
    context = LinkContext(activity, suspects)
    found: list[FoundLink] = []
    found += identity.payment_links(context)
    found += identity.key_sharing_links(context)
    context.key_sharers = {a for link in found if link.kind == "key_sharing" for a in link.pair}
    lap("links.hard")
    # The synchronised-activity finder needs only what is known by now. With the run's
    # snapshot it reads the suspects' minutes on a second connection and tests them in a
    # child process, while the finders below work here.
    timing_links = SideWork(
        lambda db: timing.synchronised_links(context, db, apart=activity.snapshot is not None),
        snapshot=activity.snapshot,
    )
    parties = identity.parties(context, found)
    found += identity.network_links(context, parties)
    lap("links.network")
    # Not suspect-gated: a light swarm's accounts never fire a signal of their own.
    campaign_links, campaigns = coordination.campaigns_find(context, parties, lap=lap)
    found += campaign_links
    found += identity.signup_burst_links(context)
    lap("links.signup")
    scaffold_links, scaffold_use = prompts.shared_scaffold_links(context)
    found += scaffold_links
    found += prompts.identical_prompt_links(context)
    found += prompts.proxy_routing_links(context, scaffold_use)
    lap("links.prompts")
    # Here rather than after the synchronised pairs on the second connection, which are
    # still being tested when this one gets here.
    found += timing.handoff_links(context)
    found += timing_links.result()
    lap("links.timing")
    found = _merge_duplicates(found)
    _samples_fetch(found)
    lap("links.exhibits")
    return found, campaigns


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
