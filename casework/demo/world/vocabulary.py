"""The words the synthetic world is written in: names, organisations, countries, clients,
and the vocabulary its prompts are filled from.

The lists are data files under `data/`, read once at import; this module gives them their
names and shapes (tuples, so no caller can change a list another relies on).
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


_identities = _load("identities.json")
FIRST_NAMES: tuple[str, ...] = tuple(_identities["first_names"])
LAST_NAMES: tuple[str, ...] = tuple(_identities["last_names"])
ORG_WORDS_A: tuple[str, ...] = tuple(_identities["org_words_a"])
ORG_WORDS_B: tuple[str, ...] = tuple(_identities["org_words_b"])
ORG_SUFFIXES: tuple[str, ...] = tuple(_identities["org_suffixes"])
FREEMAIL: tuple[str, ...] = tuple(_identities["freemail_domains"])
THROWAWAY: tuple[str, ...] = tuple(_identities["throwaway_domains"])
# country, weight, UTC offsets in January (southern-hemisphere summer time included)
COUNTRIES: tuple[tuple[str, float, tuple[float, ...]], ...] = tuple(
    (entry["code"], entry["weight"], tuple(entry["utc_offsets"]))
    for entry in _identities["countries"]
)
SDK_AGENTS: tuple[str, ...] = tuple(_identities["sdk_agents"])
BROWSER_AGENTS: tuple[str, ...] = tuple(_identities["browser_agents"])

_prompts = _load("prompts.json")
# Pools a template's {field} draws from; "name__2" draws a second value from pool "name".
FILLERS: dict[str, tuple[str, ...]] = {
    name: tuple(pool) for name, pool in _prompts["fillers"].items()
}
# Application prompt templates by use, each with the kind of answer it asks for.
TEMPLATE_SETS: dict[str, list[tuple[str, str]]] = {
    name: [(template["text"], template["kind"]) for template in templates]
    for name, templates in _prompts["template_sets"].items()
}
# The network's prompts: few templates, each filled from a topic grid it sweeps cell by
# cell, so that across its accounts the fills are near-unique and cover the space evenly.
SWEEP_TEMPLATES: tuple[str, ...] = tuple(_prompts["sweep_templates"])
SWEEP_DOMAINS: dict[str, tuple[str, ...]] = {
    domain: tuple(concepts) for domain, concepts in _prompts["sweep_domains"].items()
}
SWEEP_LEVELS: tuple[str, ...] = tuple(_prompts["sweep_levels"])
SWEEP_ANGLES: tuple[str, ...] = tuple(_prompts["sweep_angles"])
SWEEP_VERBS: tuple[str, ...] = tuple(_prompts["sweep_verbs"])

# The light swarm's harvesting requests, as parts its generator recombines.
SWARM: dict = _load("swarm.json")
# The light-swarm world's innocent crowds: an open-source app, a tutoring product, an
# evaluation lab's judging prompts.
LOOKALIKES: dict = _load("lookalikes.json")
