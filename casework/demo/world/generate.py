"""`scenario_generate`: the one entry point that builds the synthetic world from a seed and
writes its files (accounts, usage, assent, Terms, catalogue, plans and labels, the
provider's billing export, and the rival's probe transcripts, canary plan and serve log).

Detectors and the ingest path need a world whose misconduct is known in advance, and whose
innocent look-alikes are known too, so that both "it found the network" and "it did not
accuse the university" can be tested. Pure Python, no database: the management command
`generate_scenario` is a thin wrapper around `scenario_generate`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from casework.demo.world.assent import assent_records
from casework.demo.world.billing import BILLING_FILE, billing_write
from casework.demo.world.builder import world_build
from casework.demo.world.provider import (
    MODELS,
    PLANS,
    TERMS_SAMPLES,
    TERMS_SLUG,
    TERMS_VERSIONS,
    terms_sample_text,
    terms_text,
)
from casework.demo.world.rival import PLAN_FILE, PROBES_FILE, SERVES_FILE, rival_write
from casework.demo.world.screens import SCREENS_DIR, screens_write
from casework.demo.world.shapes import CLASSIC, shape_check
from casework.demo.world.writers import json_write, labels_document, lines_write, usage_write

# Smallest world in which every cohort still has its full shape (the network needs a dozen
# accounts, the university a lab of students, each cohort enough events to show a rhythm).
MIN_ACCOUNTS = 200
MIN_EVENTS = 10_000


def scenario_generate(
    *,
    out_dir: Path,
    accounts: int = 2000,
    events: int = 100_000,
    seed: int = 1,
    shape: str = CLASSIC,
) -> dict:
    """Write a synthetic world into ``out_dir`` and return a summary of what was written.

    Same arguments give byte-identical files: every random choice comes from generators
    seeded by ``seed``, and nothing depends on the clock, the hash seed or the machine.
    ``shape`` is `classic` or `light-swarm` (casework/demo/world/shapes.py).
    """
    shape_check(shape)
    if accounts < MIN_ACCOUNTS:
        raise ValueError(f"accounts must be at least {MIN_ACCOUNTS}, got {accounts}")
    if events < MIN_EVENTS:
        raise ValueError(f"events must be at least {MIN_EVENTS}, got {events}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    (out_dir / "terms").mkdir(parents=True, exist_ok=True)

    world = world_build(accounts=accounts, events=events, seed=seed, shape=shape)

    ordered = sorted(world.accounts, key=lambda a: (a.created_ms, a.account_id))
    lines_write(out_dir / "accounts.ndjson", (a.record() for a in ordered))
    screens = screens_write(out_dir)
    assent = assent_records(world, {flow: s["sha256"] for flow, s in screens.items()})
    lines_write(out_dir / "assent.ndjson", assent)
    usage = usage_write(world, out_dir / "usage.ndjson")
    for version in TERMS_VERSIONS:
        path = out_dir / "terms" / f"{TERMS_SLUG}-{version}.md"
        path.write_text(terms_text(version), encoding="utf-8")
    # The provider's other Terms documents, so the record holds more than one.
    for slug, (_title, version) in TERMS_SAMPLES.items():
        if slug != TERMS_SLUG:
            path = out_dir / "terms" / f"{slug}-{version}.md"
            path.write_text(terms_sample_text(slug), encoding="utf-8")
    json_write(out_dir / SCREENS_DIR / "screens.json", screens)
    (out_dir / "models.json").write_text(json.dumps(MODELS, indent=2) + "\n", encoding="utf-8")
    (out_dir / "plans.json").write_text(json.dumps(PLANS, indent=2) + "\n", encoding="utf-8")
    labels = labels_document(world)
    json_write(out_dir / "labels.json", labels)
    # The billing export and the rival's files come last and from the files above, so
    # those stay as they were.
    billed = billing_write(world, out_dir, seed=seed)
    rival = rival_write(out_dir=out_dir, labels=labels, seed=seed)

    line_counts = {
        "accounts.ndjson": len(ordered),
        "usage.ndjson": usage["events"],
        "assent.ndjson": len(assent),
        BILLING_FILE: billed,
        SERVES_FILE: rival[SERVES_FILE],
        PROBES_FILE: rival[PROBES_FILE],
    }
    written = [*line_counts, "labels.json", "models.json", "plans.json", PLAN_FILE]
    written += [f"terms/{TERMS_SLUG}-{version}.md" for version in TERMS_VERSIONS]
    written += [
        f"terms/{slug}-{v}.md" for slug, (_t, v) in TERMS_SAMPLES.items() if slug != TERMS_SLUG
    ]
    written += [s["file"] for s in screens.values()] + [f"{SCREENS_DIR}/screens.json"]
    files = {}
    for name in sorted(written):  # only what this run wrote, whatever else DIR holds
        files[name] = {"bytes": (out_dir / name).stat().st_size}
        if name in line_counts:
            files[name]["lines"] = line_counts[name]
    accounts_by_role = dict.fromkeys(("benign", "hard_negative", "adversary"), 0)
    for account in world.accounts:
        accounts_by_role[account.role] += 1
    return {
        "out_dir": str(out_dir),
        "seed": seed,
        "shape": shape,
        "window": labels["window"],
        "accounts": len(ordered),
        "events": usage["events"],
        "assent_records": len(assent),
        "accounts_by_role": accounts_by_role,
        "accounts_by_group": {
            name: len(group["accounts"]) for name, group in labels["groups"].items()
        },
        "events_by_role": usage["events_by_role"],
        "output_tokens_by_role": usage["output_tokens_by_role"],
        "files": files,
        "bytes_written": sum(entry["bytes"] for entry in files.values()),
        "elapsed_seconds": round(time.perf_counter() - started, 3),
    }
