"""What the light swarm asks: ordinary requests, and among them harvesting ones written by
a generator that recombines parts, so the same asks come in thousands of wordings.

Three kinds of harvest (the disclosed campaigns' own): a reasoning trace asked for in new
words and several languages around an ordinary problem, a long answer to a short question,
and a judgement between candidate answers (preference data). None of the parts is a phrase
of the detectors' lexicons: a swarm that says "step by step" is not the hard case.
"""

from __future__ import annotations

import random
import re

from casework.demo.world.prompts import COMPILED, TemplatePrompts
from casework.demo.world.vocabulary import FILLERS, SWARM

_REASONING = SWARM["reasoning"]
_LANGUAGES = tuple(_REASONING["languages"])
_LANGUAGE_WEIGHTS = tuple(_REASONING["languages"].values())
_PLACEMENTS = tuple(_REASONING["placement"])
_PLACEMENT_WEIGHTS = tuple(_REASONING["placement"].values())
_FIELD = re.compile(r"{(\w+)}")
_NUMBERS = {
    "a": (12, 5000),
    "b": (2, 400),
    "k": (2, 12),
    "n": (3, 40),
    "pct": (2, 35),
    "s1": (20, 140),
    "s2": (20, 140),
}


def _pool(name: str) -> tuple[str, ...]:
    base = name.split("__")[0]
    if base in _REASONING["fillers"]:
        return tuple(_REASONING["fillers"][base])
    return FILLERS[base]


def _compile(text: str) -> tuple[str, tuple]:
    """A template with, for each field, either a number range or a pool of words."""
    fields = []
    for name in dict.fromkeys(_FIELD.findall(text)):
        fields.append((name, _NUMBERS.get(name) or _pool(name)))
    return text, tuple(fields)


def _fill(rng: random.Random, compiled: tuple[str, tuple]) -> str:
    text, fields = compiled
    values = {}
    for name, source in fields:
        if isinstance(source[0], int):
            values[name] = str(rng.randint(*source))
        else:
            values[name] = rng.choice(source)
    return text.format_map(values)


_TASKS = tuple(_compile(task) for task in _REASONING["tasks"])
_LONGFORM = SWARM["longform"]
_SUBJECTS = (
    tuple(_LONGFORM["subjects"])
    + FILLERS["research_topic"]
    + FILLERS["topic"]
    + FILLERS["course_concept"]
    + FILLERS["simple_concept"]
)
_JUDGING = SWARM["judging"]


def reasoning_request(rng: random.Random) -> str:
    """An ordinary problem with an instruction to write out the working, in one of several
    languages and in one of thousands of wordings."""
    language = rng.choices(_LANGUAGES, weights=_LANGUAGE_WEIGHTS)[0]
    choice = rng.choice
    act = (
        f"{choice(_REASONING['verbs'][language])} {choice(_REASONING['objects'][language])}"
        f"{choice(_REASONING['manners'][language])}"
    )
    instruction = (
        choice(_REASONING["framings"][language])
        .replace("{act}", act)
        .replace("{Act}", act[0].upper() + act[1:])
    )
    task = _fill(rng, choice(_TASKS))
    if rng.choices(_PLACEMENTS, weights=_PLACEMENT_WEIGHTS)[0] == "before":
        return f"{instruction} {task}"
    return f"{task} {instruction}"


def longform_request(rng: random.Random) -> str:
    request = rng.choice(_LONGFORM["framings"]).format(subject=rng.choice(_SUBJECTS))
    return request + rng.choice(_LONGFORM["angles"])


def judging_request(rng: random.Random) -> str:
    """Two candidate answers to compare, or one answer to mark against a key."""
    choice = rng.choice
    if rng.random() < 0.75:
        first, second = rng.sample(FILLERS["sentence"] + FILLERS["doc"], 2)
        return (
            f"{choice(_JUDGING['openings'])}\nPrompt: {choice(FILLERS['question'])}\n"
            f"Reply A: {first}\nReply B: {second}\n{choice(_JUDGING['asks'])}"
        )
    answer, key = rng.sample(FILLERS["sentence"], 2)
    return (
        f"{choice(_JUDGING['single_openings'])}\nQuestion: {choice(FILLERS['question'])}\n"
        f"Key: {key}\nAnswer: {answer}\n{choice(_JUDGING['single_asks'])}"
    )


def paraphrase_space() -> int:
    """How many wordings the reasoning instruction alone can take (its problems apart)."""
    total = 0
    for language in _LANGUAGES:
        total += (
            len(_REASONING["framings"][language])
            * len(_REASONING["verbs"][language])
            * len(_REASONING["objects"][language])
            * len(_REASONING["manners"][language])
        )
    return total * len(_PLACEMENTS)


_HARVESTS = (
    (reasoning_request, "cot"),
    (longform_request, "longform"),
    (judging_request, "judge"),
)
# The ordinary requests a swarm account mixes in: what apps and people ask every day, less
# the few templates that themselves ask for reasoning in the lexicon's words.
COVER_TEMPLATES = [
    template
    for name in ("personal", "code", "content", "support", "translate", "rag")
    for template in COMPILED[name]
    if "step by step" not in template[0].lower()
]


class HarvestPrompts:
    """One swarm account's requests: a share harvesting (in the operator's mix of the three
    kinds), the rest ordinary requests from the account's own few templates."""

    __slots__ = ("cover", "harvest_share", "mix")

    def __init__(self, harvest_share: float, mix: list[float], cover: TemplatePrompts):
        self.harvest_share = harvest_share
        self.mix = mix
        self.cover = cover

    def draw(self, rng: random.Random) -> tuple[str, str]:
        if rng.random() >= self.harvest_share:
            return self.cover.draw(rng)
        write, kind = rng.choices(_HARVESTS, weights=self.mix)[0]
        return write(rng), kind
