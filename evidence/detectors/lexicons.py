"""Reviewable phrase lists kept as data, and the signals that count prompts matching them.

The lists live in JSON beside this module so that counsel, and the other side's expert,
can read, strike or add phrases without reading code. A list carries its own version,
which becomes part of the detector version stored with every finding.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from evidence.detectors.baseline import percentile_words, share_words
from evidence.detectors.registry import Measure, Signal

LEXICON_DIR = Path(__file__).resolve().parent
MIN_PROMPTED = 20


@cache
def lexicon(name: str) -> dict[str, Any]:
    """`<name>_lexicon.json`: {"name", "version", "description", "phrases": [...]}."""
    data = json.loads((LEXICON_DIR / f"{name}_lexicon.json").read_text(encoding="utf-8"))
    data["phrases"] = [phrase.lower() for phrase in data["phrases"]]
    return data


@cache
def lexicon_pattern(name: str) -> re.Pattern:
    """One regular expression matching any phrase of the lexicon as a substring.

    The phrases are folded into a trie first ("step by step|step-by-step" becomes
    "step(?: by step|-by-step)"), which lets the matcher test every phrase in one pass over
    the text: about ten times faster than trying the phrases one by one, which matters when
    a hundred thousand distinct prompts are matched in every run.
    """
    trie: dict = {}
    for phrase in lexicon(name)["phrases"]:
        node = trie
        for char in phrase:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(_trie_regex(trie))


def _trie_regex(node: dict) -> str:
    branches = [
        re.escape(char) + _trie_regex(child) for char, child in sorted(node.items()) if char
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # A phrase ends here: the longer phrases below it are optional. Matching a substring,
    # the shortest complete phrase is enough.
    return "" if "" in node else body


class LexiconSignal(Signal):
    """Share of an account's prompts that match a lexicon (column `column` of the row)."""

    lexicon_name = ""
    column = ""
    # "asked for step-by-step reasoning": what a matching prompt does, for the sentence.
    doing = ""

    @property
    def version(self) -> str:  # type: ignore[override]
        return f"{self.method_version}+lexicon{lexicon(self.lexicon_name)['version']}"

    method_version = "1"

    def measure(self, row):
        if row["prompted"] < MIN_PROMPTED:
            return None
        return Measure(
            row[self.column] / row["prompted"],
            {"prompted": row["prompted"], "matching": row[self.column]},
        )

    def explain(self, measure, baseline, fired):
        sentence = (
            f"{measure.facts['matching']:,} of its {measure.facts['prompted']:,} prompts "
            f"({share_words(measure.value)}) {self.doing}; the median "
            f"{baseline.cohort or 'unplanned'} customer: {share_words(baseline.median)}; "
            f"{percentile_words(baseline)}."
        )
        if not fired:
            sentence += f" Below the threshold of {share_words(self.threshold)}."
        return sentence

    def sample_condition(self, measure):
        return (
            "EXISTS (SELECT 1 FROM det_key k WHERE k.template = u.prompt_template_key "
            f"AND k.{self.column})",
            [],
        )
