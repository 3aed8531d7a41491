"""What accounts ask: application templates filled from the vocabulary, the network's sweep
over a topic grid, an evaluation harness's fixed benchmark items, and the answer size each
kind of prompt gets."""

from __future__ import annotations

import math
import random
import re

from casework.demo.world.vocabulary import (
    FILLERS,
    SWEEP_ANGLES,
    SWEEP_DOMAINS,
    SWEEP_LEVELS,
    SWEEP_TEMPLATES,
    SWEEP_VERBS,
    TEMPLATE_SETS,
)

# kind: (extra context tokens low, high; output tokens lognormal mu, sigma)
KINDS: dict[str, tuple[int, int, float, float]] = {
    "chat": (20, 400, math.log(180), 0.7),
    "support": (150, 900, math.log(140), 0.5),
    "code": (50, 1500, math.log(450), 0.7),
    "content": (30, 200, math.log(500), 0.5),
    "translate": (20, 80, math.log(60), 0.5),
    "summary": (300, 3000, math.log(160), 0.5),
    "extract": (100, 1200, math.log(60), 0.6),
    "classify": (50, 600, math.log(4), 0.6),
    "rag": (800, 4000, math.log(220), 0.6),
    "homework": (10, 200, math.log(420), 0.6),
    "mcq": (0, 20, math.log(2), 0.5),
    "bulk": (40, 300, math.log(1300), 0.35),
    "cot": (20, 120, math.log(1200), 0.45),
    "longform": (0, 40, math.log(1500), 0.35),
    "judge": (150, 900, math.log(220), 0.5),
}

BENCHMARK_SUITES = ("mcq", "yesno", "arith", "translate")


_FIELD = re.compile(r"{(\w+)}")


def templates_compile(templates: list[tuple[str, str]]) -> list[tuple[str, tuple, str]]:
    """Pair each template with the vocabulary pools its fields draw from."""
    compiled = []
    for text, kind in templates:
        names = tuple(dict.fromkeys(_FIELD.findall(text)))
        fields = tuple((name, FILLERS[name.split("__")[0]]) for name in names)
        compiled.append((text, fields, kind))
    return compiled


COMPILED = {name: templates_compile(templates) for name, templates in TEMPLATE_SETS.items()}


class TemplatePrompts:
    """An application's prompts: a handful of templates used with uneven frequency."""

    __slots__ = ("cot_share", "cum_weights", "templates")

    def __init__(self, templates: list, weights: list[float], cot_share: float = 0.0):
        self.templates = templates
        self.cum_weights = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.cot_share = cot_share

    def draw(self, rng: random.Random) -> tuple[str, str]:
        text, fields, kind = rng.choices(self.templates, cum_weights=self.cum_weights)[0]
        choice = rng.choice
        prompt = text.format_map({name: choice(pool) for name, pool in fields})
        if self.cot_share and rng.random() < self.cot_share:
            prompt += " Please explain your reasoning step by step."
        return prompt, kind


class SweepPrompts:
    """The network's harvesting prompts: walks a shuffled topic grid so coverage is even."""

    __slots__ = ("cells", "position")

    def __init__(self, rng: random.Random):
        cells = [
            (domain, concept, level, angle)
            for domain, concepts in SWEEP_DOMAINS.items()
            for concept in concepts
            for level in SWEEP_LEVELS
            for angle in SWEEP_ANGLES
        ]
        rng.shuffle(cells)
        self.cells = cells
        self.position = 0

    def draw(self, rng: random.Random) -> tuple[str, str]:
        domain, concept, level, angle = self.cells[self.position % len(self.cells)]
        self.position += 1
        prompt = rng.choice(SWEEP_TEMPLATES).format(
            domain=domain,
            concept=concept,
            level=level,
            angle=angle,
            verb=rng.choice(SWEEP_VERBS),
            n1=rng.randint(2, 9999),
            n2=rng.randint(2, 9999),
        )
        return prompt, "cot"


class BenchmarkPrompts:
    """An evaluation harness: runs fixed benchmark items in order, again and again, so the
    very same prompts recur on every run and every model."""

    __slots__ = ("items", "position")

    def __init__(self, items: list[tuple[str, str]], start: int):
        self.items = items
        self.position = start

    def draw(self, rng: random.Random) -> tuple[str, str]:
        item = self.items[self.position % len(self.items)]
        self.position += 1
        return item


def benchmark_items(rng: random.Random, per_suite: int) -> list[tuple[str, str]]:
    pick = rng.choice
    items = []
    for suite in BENCHMARK_SUITES:
        for number in range(1, per_suite + 1):
            if suite == "mcq":
                concept = pick(FILLERS["course_concept"])
                options = rng.sample(FILLERS["simple_concept"] + FILLERS["pair"], 4)
                prompt = (
                    f"Question {number}: Which statement best relates to {concept}?\n"
                    f"A) {options[0]}\nB) {options[1]}\nC) {options[2]}\nD) {options[3]}\n"
                    "Answer with a single letter."
                )
            elif suite == "yesno":
                prompt = (
                    f"Passage: {pick(FILLERS['doc'])}\nQuestion: {pick(FILLERS['question'])} "
                    "Is the answer stated in the passage? Answer yes or no.\nAnswer:"
                )
            elif suite == "arith":
                a, b, c = rng.randint(2, 999), rng.randint(2, 99), rng.randint(2, 99)
                prompt = f"Compute {a} + {b} * {c}. Answer with the number only."
            else:
                prompt = (
                    f"Translate into {pick(FILLERS['human_lang'])}. Output only the "
                    f"translation.\n{pick(FILLERS['sentence'])}"
                )
            items.append((prompt, "translate" if suite == "translate" else "mcq"))
    return items


def judging_items(rng: random.Random, templates: list[str], count: int) -> list[tuple[str, str]]:
    """An evaluation harness's model-graded items: a judge prompt over a question and an
    answer, the same items on every run."""
    compiled = templates_compile([(text, "judge") for text in templates])
    choice = rng.choice
    items = []
    for number in range(count):
        text, fields, kind = compiled[number % len(compiled)]
        items.append((text.format_map({name: choice(pool) for name, pool in fields}), kind))
    return items


Prompts = TemplatePrompts | SweepPrompts | BenchmarkPrompts
