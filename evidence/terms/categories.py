"""The suggested breach category of a Terms clause, weighed from evidence in its words.

A clause is suggested a category when its own words name the conduct (a marker such as
"scrape" or "export control"), or pair an act with its object in one sentence ("share" +
"API key", "exceed" + "limits"), weighed by its force: a prohibition or duty on the
customer counts fully, the provider's own undertakings ("We apply rate limits ...") and
plain statements less. The heading and lead-in it sits under add a part. Boilerplate
(governing law, fees, liability, assigning the agreement) competes as "other", which is
what keeps "You may not transfer these Terms" from reading as a key transfer.

The answer is "other" when nothing telling is there, and "uncategorised" when there is
evidence but no clear winner: a wrong category gives an allegation the wrong support, so
the classifier abstains rather than guesses, and counsel decides. The cues are data
(`clause_lexicon.json`) so that counsel can read which words lead where. Pure Python.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

CLAUSE_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("competing_models", "Competing models"),
    ("output_extraction", "Output extraction"),
    ("limit_circumvention", "Circumvention of limits"),
    ("key_transfer", "Key transfer / resale"),
    ("account_sharing", "Account sharing"),
    ("region", "Region"),
    ("other", "Other"),
    ("uncategorised", "Uncategorised"),
)
OTHER = "other"
UNCATEGORISED = "uncategorised"
BREACH_CATEGORIES = tuple(
    code for code, _ in CLAUSE_CATEGORIES if code not in (OTHER, UNCATEGORISED)
)

LEXICON_PATH = Path(__file__).with_name("clause_lexicon.json")
STATEMENT = "statement"  # the force of a clause that binds no one

# Where one list item ends and the next act could begin: an act and its object pair only
# within one of these stretches, so "(a) share ...; (b) ... API keys" is no pair.
_SEGMENT = re.compile(r";|\.(?:\s|$)|:\s")


@dataclass(frozen=True)
class CategoryVerdict:
    """The suggestion and the figures behind it, so a reader can see why."""

    category: str
    scores: dict[str, float]  # per breach category, after force and context
    boilerplate: float
    force: str
    telling: bool  # some category or boilerplate evidence at all


@dataclass(frozen=True)
class _Cue:
    pattern: re.Pattern[str]
    weight: float


@dataclass(frozen=True)
class _CategoryCues:
    markers: tuple[_Cue, ...]
    acts: tuple[_Cue, ...]
    objects: tuple[_Cue, ...]


@dataclass(frozen=True)
class _Lexicon:
    categories: dict[str, _CategoryCues]
    boilerplate: tuple[_Cue, ...]
    purpose: tuple[_Cue, ...]
    forces: tuple[tuple[str, float, tuple[_Cue, ...]], ...]
    decide: dict[str, float]


def clause_category_suggest(text: str, heading: str = "", *, lead_in: str = "") -> str:
    """Suggest a category code for an operative clause (see the module docstring).

    `heading` is the title the clause sits under; `lead_in` the words of the clause a list
    item completes ("You may not:"), whose force and words the item shares.
    """
    return clause_category_weigh(text, heading, lead_in=lead_in).category


def clause_category_weigh(text: str, heading: str = "", *, lead_in: str = "") -> CategoryVerdict:
    """The suggestion with its figures: each category's score, the boilerplate score and
    the force the clause was read with (see the module docstring for how they combine)."""
    lexicon = _lexicon()
    decide = lexicon.decide
    body, title, lead = _plain(text), _plain(heading), _plain(lead_in)
    force, factor = _force(lexicon, body, lead)
    scores = {}
    purpose = _purpose(lexicon, body)
    for code, cues in lexicon.categories.items():
        own = _evidence(cues, body, decide)
        if own and purpose and _evidence(cues, purpose, decide) >= decide["pair_weight"]:
            own += decide["purpose_bonus"]
        # The heading and lead-in only strengthen what the clause's own words show: a bare
        # "You must not:" under "Regions and Sanctions" forbids nothing by itself.
        context = _evidence(cues, f"{title}. {lead}", decide) if own else 0.0
        scores[code] = round(factor * own + decide["context_weight"] * context, 3)
    boilerplate = _boilerplate(lexicon, body, decide) + decide["context_weight"] * _boilerplate(
        lexicon, title, decide
    )
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    (best, first), (_, second) = ranked[0], ranked[1]
    if first < decide["nothing"] or boilerplate >= first:
        category = OTHER
    elif first >= decide["confident"] and first - second >= decide["margin"]:
        category = best
    else:
        category = UNCATEGORISED
    return CategoryVerdict(
        category=category,
        scores=scores,
        boilerplate=round(boilerplate, 3),
        force=force,
        telling=first >= decide["nothing"] or boilerplate > 0,
    )


def _evidence(cues: _CategoryCues, text: str, decide: dict[str, float]) -> float:
    """The strongest of a marker, an act paired with its object, or a lone act or object,
    plus a little for each further cue."""
    if not text:
        return 0.0
    markers = [cue.weight for cue in cues.markers if cue.pattern.search(text)]
    acts = [cue for cue in cues.acts if cue.pattern.search(text)]
    objects = [cue for cue in cues.objects if cue.pattern.search(text)]
    paired = any(
        any(a.pattern.search(part) for a in cues.acts)
        and any(o.pattern.search(part) for o in cues.objects)
        for part in _SEGMENT.split(text)
    )
    strongest = max(
        [
            *markers,
            decide["pair_weight"] if paired else 0.0,
            decide["lone_weight"] if acts or objects else 0.0,
        ]
    )
    found = len(markers) + len(acts) + len(objects)
    extra = min(decide["corroboration_cap"], decide["corroboration"] * max(0, found - 1))
    return strongest + extra if strongest else 0.0


def _purpose(lexicon: _Lexicon, body: str) -> str:
    """The words after the last purpose phrase ("to evade ...", "in order to ..."), if any:
    in "use the API to assemble a corpus for training models" the end is training."""
    ends = [match.end() for cue in lexicon.purpose for match in cue.pattern.finditer(body)]
    return body[max(ends) :] if ends else ""


def _boilerplate(lexicon: _Lexicon, text: str, decide: dict[str, float]) -> float:
    found = sum(1 for cue in lexicon.boilerplate if cue.pattern.search(text)) if text else 0
    if not found:
        return 0.0
    extra = min(decide["corroboration_cap"], decide["corroboration"] * (found - 1))
    return decide["boilerplate_weight"] + extra


def _force(lexicon: _Lexicon, body: str, lead: str) -> tuple[str, float]:
    """How strongly the clause binds the customer; a list item shares its lead-in's."""
    for name, factor, cues in lexicon.forces:
        if any(cue.pattern.search(body) or (lead and cue.pattern.search(lead)) for cue in cues):
            return name, factor
    # Nothing binds anyone: a plain statement ("Usage tiers are published ...").
    return STATEMENT, next(factor for name, factor, _ in lexicon.forces if name == STATEMENT)


def _plain(text: str) -> str:
    """The words without emphasis marks, with straight quotes and single spaces, so a
    wrapped line or a **bold** word does not hide a phrase from its pattern."""
    text = re.sub(r"[*_`]+", "", text).replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split())


@functools.cache
def _lexicon() -> _Lexicon:
    return lexicon_load(LEXICON_PATH)


def lexicon_load(path: Path) -> _Lexicon:
    """Read and check the lexicon; a mistake in it names the place and the pattern."""
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data["categories"]) - set(BREACH_CATEGORIES)
    if unknown:
        raise ValueError(f"{path.name}: unknown categories {sorted(unknown)}")

    def compiled(where: str, rules: list[dict]) -> tuple[_Cue, ...]:
        cues = []
        for number, rule in enumerate(rules, start=1):
            try:
                pattern = re.compile(rule["pattern"], re.IGNORECASE)
            except re.error as error:
                raise ValueError(
                    f"{path.name}: {where} pattern {number} ({rule['pattern']!r}): {error}"
                ) from error
            cues.append(_Cue(pattern=pattern, weight=float(rule.get("weight", 0))))
        return tuple(cues)

    categories = {
        code: _CategoryCues(
            markers=compiled(f"{code} markers", entry["markers"]),
            acts=compiled(f"{code} acts", entry["acts"]),
            objects=compiled(f"{code} objects", entry["objects"]),
        )
        for code, entry in data["categories"].items()
    }
    # Read in the file's order: the first force whose pattern matches is the clause's.
    forces = tuple(
        (name, float(entry["factor"]), compiled(f"force {name}", entry["patterns"]))
        for name, entry in data["force"].items()
    )
    if STATEMENT not in data["force"]:
        raise ValueError(f"{path.name}: the force {STATEMENT!r} (the default) is missing")
    return _Lexicon(
        categories=categories,
        boilerplate=compiled("boilerplate", data["boilerplate"]),
        purpose=compiled("purpose", data["purpose"]),
        forces=forces,
        decide={name: float(value) for name, value in data["decide"].items()},
    )
