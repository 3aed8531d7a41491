"""The demo's synthetic world: accounts, usage, assent, Terms and the truth behind them,
generated deterministically from a seed for the demo, the tests and the benchmarks."""

from casework.demo.world.generate import MIN_ACCOUNTS, MIN_EVENTS, scenario_generate
from casework.demo.world.provider import (
    MODELS,
    NEW_MODEL,
    NEW_MODEL_RELEASE,
    PLANS,
    TERMS_SLUG,
    TERMS_VERSIONS,
    terms_text,
)
from casework.demo.world.shapes import SHAPES
from casework.demo.world.window import WINDOW_DAYS, WINDOW_START

__all__ = [
    "MIN_ACCOUNTS",
    "MIN_EVENTS",
    "MODELS",
    "NEW_MODEL",
    "NEW_MODEL_RELEASE",
    "PLANS",
    "SHAPES",
    "TERMS_SLUG",
    "TERMS_VERSIONS",
    "WINDOW_DAYS",
    "WINDOW_START",
    "scenario_generate",
    "terms_text",
]
