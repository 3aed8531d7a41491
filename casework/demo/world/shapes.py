"""The shapes of world the generator can build: `classic` (the worlds the detectors were
first measured on, kept byte for byte) and `light-swarm` (the classic cohorts, a swarm of
light accounts run by one operator, and the innocent crowds that look coordinated too).

A shape names its cohorts' shares of the events and the groups its `labels.json` lists.
"""

from __future__ import annotations

from casework.demo.world.archetypes import EVENT_SHARES, GROUP_INFO

CLASSIC, LIGHT_SWARM = "classic", "light-swarm"
SHAPES = (CLASSIC, LIGHT_SWARM)

# In the light-swarm world the "benign" cohort is the pool of every ordinary-looking
# account: the benign customers, the swarm, the open-source app's users, the carrier's
# subscribers and the eager adopters share its events in proportion to volumes drawn from
# one distribution, so none of them is light or heavy by construction.
LIGHT_SWARM_EVENT_SHARES = {
    "benign": 0.70,
    "enterprise": 0.08,
    "university": 0.02,
    "evaluation": 0.02,
    "reseller": 0.03,
    "tutoring": 0.02,
    "network-direct": 0.08,
    "network-via-reseller": 0.02,
    "conduit-own-customers": 0.01,
    "ring": 0.02,
}

LIGHT_SWARM_GROUP_INFO = {
    "evaluation-company": (
        "hard_negative",
        "evaluation_company",
        "A model-evaluation lab with many declared accounts on one card and one organisation, "
        "running fixed benchmark suites and model-graded judging prompts with identical "
        "parameters in office hours, and benchmarking the new model on release day.",
    ),
    "legitimate-reseller": (
        "hard_negative",
        "legitimate_reseller",
        "An authorised reseller gateway: a few declared accounts of one organisation on one "
        "card, sending end-user ids for hundreds of end users in several regions through the "
        "gateway's own few addresses.",
    ),
    "light-swarm": (
        "adversary",
        "light_swarm",
        "One operator running many bought identities (own countries, organisations, emails "
        "and cards, signed up over weeks), each a light, ordinary-looking customer whose "
        "volume is drawn from the benign distribution. A third to three fifths of each "
        "account's requests harvest: reasoning traces asked for in paraphrase (several "
        "languages, never the usual phrases), long answers to short questions, judgements "
        "between candidate answers; the rest is ordinary chat. Every request leaves through a "
        "residential proxy pool shared by all the accounts, with one client and one parameter "
        "set, in campaign waves set by one scheduler, and the traffic moves to the new model "
        "within hours of its release.",
    ),
    "open-source-app": (
        "hard_negative",
        "open_source_app_users",
        "Unrelated users of one popular open-source app: the app's prompt scaffold, client "
        "and default parameters are the same for all, while each user has their own "
        "addresses, rhythm, card and country, and asks ordinary things.",
    ),
    "carrier-nat": (
        "hard_negative",
        "carrier_nat",
        "Unrelated subscribers of one mobile carrier in one country, all behind the carrier's "
        "few NAT addresses (a handful, not a rotating pool), each with their own card and "
        "ordinary consumer use.",
    ),
    "tutoring-product": (
        "hard_negative",
        "tutoring_product",
        "A tutoring product's declared accounts (one organisation, one card), one per "
        "deployment, each with its own server addresses and students' end-user ids; every "
        "prompt asks for worked steps, in school-day hours.",
    ),
    "eager-adopters": (
        "hard_negative",
        "eager_adopter",
        "Ordinary, unrelated customers who move much of their traffic to the new model in "
        "the first days after its release, each on their own day and in their own share.",
    ),
}


def event_shares(shape: str) -> dict[str, float]:
    shape_check(shape)
    return EVENT_SHARES if shape == CLASSIC else LIGHT_SWARM_EVENT_SHARES


def group_info(shape: str) -> dict[str, tuple[str, str, str]]:
    shape_check(shape)
    if shape == CLASSIC:
        return GROUP_INFO
    return {**GROUP_INFO, **LIGHT_SWARM_GROUP_INFO}


def shape_check(shape: str) -> None:
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
