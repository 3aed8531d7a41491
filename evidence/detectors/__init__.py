"""Detectors: small, versioned methods behind one registry, each explaining itself.

A detector is a method a court may be asked to accept, so each one carries its code and
version (stored with every finding it produces), the clause categories it supports, its
threshold, and a methodology: what it measures, why the threshold sits where it does, what
ordinary conduct can trip it, and how often it fired on ordinary customers when measured.

Two kinds are registered: *signals* measure one account against the customers on the
same plan (`evidence.detectors.baseline`), and *links* say why two accounts may be one
actor (`evidence.detectors.links`). `evidence.detectors.service.detection_run` runs them.

The vocabulary and the registry live in `evidence.detectors.registry`; this package imports
every detector module, each registering itself on import, in a fixed order (the order of
`signals()` and `link_kinds()`), and re-exports what callers outside the package use.
"""

from evidence.detectors import (  # noqa: F401  (imported to register their detectors)
    coordination,
    grader,
    harvesting,
    identity,
    prompts,
    reasoning,
    release,
    rhythm,
    sweep,
    templates,
    timing,
    volume,
)
from evidence.detectors.registry import (
    MEASURED_ON,
    REGISTRY,
    Detector,
    LinkKind,
    Measure,
    Methodology,
    Signal,
    detector_versions,
    link_kinds,
    register,
    signals,
)

__all__ = [
    "MEASURED_ON",
    "REGISTRY",
    "Detector",
    "LinkKind",
    "Measure",
    "Methodology",
    "Signal",
    "detector_versions",
    "link_kinds",
    "register",
    "signals",
]
