"""The provider of the synthetic world: its model catalogue, plan limits and Terms text.

The catalogue and the Terms are data files under `data/`, read once at import; the 2026
version of the Terms is the 2025 text with a few clauses replaced, so a clause diff between
the versions is small and exact, as counsel will want to show it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from casework.demo.world.window import ms_from_iso

DATA = Path(__file__).resolve().parent / "data"

TERMS_SLUG = "services-agreement"
TERMS_VERSIONS = ("2025-06-01", "2026-01-01")

_catalogue = json.loads((DATA / "catalogue.json").read_text(encoding="utf-8"))
MODELS: list[dict] = _catalogue["models"]
# Published per-account limits: what "near its limit" and "relative to its plan" mean.
PLANS: list[dict] = _catalogue["plans"]

NEW_MODEL = "frontier-3"
# Released inside the window, so release chasing shows.
NEW_MODEL_RELEASE: str = next(m["released"] for m in MODELS if m["model"] == NEW_MODEL)
RELEASE_MS = ms_from_iso(NEW_MODEL_RELEASE)

_TERMS_2025 = (DATA / "services-agreement-2025-06-01.md").read_text(encoding="utf-8")
_TERMS_2026_CHANGES = [
    (change["old"], change["new"])
    for change in json.loads(
        (DATA / "services-agreement-2026-changes.json").read_text(encoding="utf-8")
    )
]


def terms_text(version: str) -> str:
    """The Markdown text of one version of the services agreement.

    Each clause is one line of Markdown, which keeps clause extraction and version diffs
    exact.
    """
    source = _TERMS_2025
    if version == "2026-01-01":
        for old, new in _TERMS_2026_CHANGES:
            if source.count(old) != 1:
                raise ValueError(f"terms change does not match exactly once: {old[:40]!r}")
            source = source.replace(old, new)
    elif version != "2025-06-01":
        raise ValueError(f"unknown terms version {version!r}")
    effective = datetime.strptime(version, "%Y-%m-%d").strftime("%d %B %Y").lstrip("0")
    return source.format(version=version, effective=effective)


# The provider's Terms in each numbering scheme the clause parser reads: decimal sections
# with lettered items (the services agreement), lettered parts ("Part D", "D.2(a)") and
# "Section N" headings with "a." subsections. The clause classifier is measured on them
# against a hand-labelled gold file (tests/evidence/data/clause_gold.json).
TERMS_SAMPLES = {
    "services-agreement": ("Aster Services Agreement", "2026-01-01"),
    "usage-policy": ("Aster Usage Policy", "2026-01-01"),
    "developer-terms": ("Aster Developer Platform Terms", "2026-01-01"),
}


def terms_sample_text(slug: str) -> str:
    """The text of one of `TERMS_SAMPLES`, as published."""
    if slug == TERMS_SLUG:
        return terms_text(TERMS_SAMPLES[slug][1])
    _title, version = TERMS_SAMPLES[slug]
    return (DATA / f"{slug}-{version}.md").read_text(encoding="utf-8")
