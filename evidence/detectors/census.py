"""Which detectors ran, with what code, parameters and lexicons, and what each found.

A count can only be reproduced with the method that made it. For every detector of a run
this says its version as run, the SHA-256 of the source of the modules that define it,
the parameters it applied (threshold, categories and its module's constants), and how
many accounts it measured, fired on or linked: zero and null results included, since a
method that ran and found nothing is evidence too (and leaving it out is cherry-picking).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

from evidence.detectors import clusters
from evidence.detectors.lexicons import LEXICON_DIR, lexicon
from evidence.detectors.registry import REGISTRY, Detector, Signal

PACKAGE_DIR = Path(__file__).resolve().parent
# The modules every detector's result passes through: the aggregates it reads, the cohort
# comparison, the runner, the link vocabulary and the cluster score.
SHARED_MODULES = (
    "evidence.detectors.activity",
    "evidence.detectors.baseline",
    "evidence.detectors.registry",
    "evidence.detectors.service",
    "evidence.detectors.link_base",
    "evidence.detectors.links",
    "evidence.detectors.clusters",
)


@cache
def module_source(name: str) -> dict[str, str]:
    """A module's file (relative to the repository) and the SHA-256 of its bytes."""
    path = Path(inspect.getsourcefile(importlib.import_module(name)))
    data = path.read_bytes()
    return {
        "module": name,
        "file": str(path.relative_to(PACKAGE_DIR.parent.parent)),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def detector_modules(detector: Detector) -> list[str]:
    """The project modules that define the detector: its class and the classes it builds on
    (a lexicon signal's matching lives in `lexicons`), or where a link kind is declared."""
    names = [
        cls.__module__
        for cls in type(detector).__mro__
        if cls.__module__.startswith("evidence.detectors.")
    ]
    declared = _declared_in(detector)
    if declared:
        names.insert(0, declared)
    return list(dict.fromkeys(names))


def _declared_in(detector: Detector) -> str | None:
    """The module holding the registered object under a module-level name (link kinds are
    instances of one class, declared by the finder modules)."""
    for name, module in sorted(sys.modules.items()):
        if name.startswith("evidence.detectors.") and any(
            value is detector for value in vars(module).values()
        ):
            return name
    return None


def code_sha256(detector: Detector) -> str:
    """One SHA-256 over the detector's modules' hashes, in order (`detector_modules`)."""
    digest = hashlib.sha256()
    for name in detector_modules(detector):
        digest.update(f"{module_source(name)['sha256']}  {name}\n".encode())
    return digest.hexdigest()


def _constants(module_name: str) -> dict[str, Any]:
    """A module's upper-case constants of plain values, assigned in that module (not
    imported into it): the tuning its method applies."""
    module = importlib.import_module(module_name)
    source = Path(inspect.getsourcefile(module)).read_text(encoding="utf-8")
    found = {}
    for name, value in vars(module).items():
        if not name.isupper() or name.startswith("_"):
            continue
        if not re.search(rf"^{name}\s*[:=]", source, re.MULTILINE):
            continue
        if isinstance(value, bool | int | float | str) or (
            isinstance(value, tuple | frozenset | set)
            and all(isinstance(v, bool | int | float | str) for v in value)
        ):
            found[name] = sorted(value) if isinstance(value, set | frozenset) else value
    return dict(sorted(found.items()))


def detector_parameters(detector: Detector) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "threshold": detector.threshold,
        "categories": list(detector.categories),
    }
    if isinstance(detector, Signal):
        parameters["extraction"] = detector.extraction
    lexicon_name = getattr(detector, "lexicon_name", "")
    if lexicon_name:
        parameters["lexicon"] = lexicon_name
        parameters["lexicon_version"] = lexicon(lexicon_name)["version"]
    parameters["module_constants"] = {
        name: _constants(name) for name in detector_modules(detector) if _constants(name)
    }
    return parameters


def lexicon_files() -> list[dict[str, Any]]:
    """Every lexicon file the detectors read, with the SHA-256 of its bytes."""
    files = []
    for path in sorted(LEXICON_DIR.glob("*_lexicon.json")):
        name = path.name.removesuffix("_lexicon.json")
        files.append(
            {
                "name": name,
                "file": path.name,
                "path": path,
                "version": lexicon(name)["version"],
                "phrases": len(lexicon(name)["phrases"]),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
        )
    return files


def run_census(run) -> list[dict[str, Any]]:
    """Every detector of the run (its recorded versions), in code order, with its counts."""
    counts = run.counts or {}
    measured = counts.get("signals_measured", {})
    fired = counts.get("signals_fired", {})
    links: dict[str, dict[str, int]] = {}
    for key, n in (counts.get("links_by_kind") or {}).items():
        kind, _, strength = key.partition(":")
        links.setdefault(kind, {})[strength] = n
    census = []
    for code, version in sorted((run.detector_versions or {}).items()):
        detector = REGISTRY.get(code)
        entry: dict[str, Any] = {
            "code": code,
            "name": detector.name if detector else code,
            "kind": detector.kind if detector else "unknown",
            "version_run": version,
            "version_now": detector.version if detector else None,
        }
        if detector is not None:
            entry["code_sha256"] = code_sha256(detector)
            entry["modules"] = [module_source(m) for m in detector_modules(detector)]
            entry["parameters"] = detector_parameters(detector)
        if entry["kind"] == "link":
            by_strength = dict(sorted(links.get(code, {}).items()))
            entry["results"] = {"links": sum(by_strength.values()), "by_strength": by_strength}
            found = entry["results"]["links"]
        else:
            entry["results"] = {
                "accounts_measured": measured.get(code, 0),
                "accounts_fired": fired.get(code, 0),
            }
            found = entry["results"]["accounts_fired"]
        entry["outcome"] = "found something" if found else "ran, found nothing"
        census.append(entry)
    return census


def methods_shared() -> dict[str, Any]:
    """What every detector shares: the runner's modules and the cluster score and bands."""
    return {
        "shared_modules": [module_source(m) for m in SHARED_MODULES],
        "cluster_score": clusters.score_definition(),
    }


def detection_census(run) -> dict[str, Any]:
    """What a report's snapshot freezes of the run's methods (plain JSON)."""
    return {
        "ran": run_census(run),
        **methods_shared(),
        "lexicons": [{k: v for k, v in f.items() if k != "path"} for f in lexicon_files()],
        "measurements": (run.counts or {}).get("measurements"),
    }
