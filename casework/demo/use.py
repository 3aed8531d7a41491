"""The demo's evidence of use: the rival's files of the scenario (`world.rival`) loaded as an
operator would, and attached to the demo case, so its report has a "Use of the outputs"
section with claims, canary matches and overlap against a clean control.

The canaries are planned in Pacta with the plan file's seed and accounts, before any probe
is ingested (a canary must be new to the record): Pacta draws the very canaries the
scenario served, so the serve log and the rival's answers name canaries it knows.
"""

from __future__ import annotations

import json
from pathlib import Path

from casework.demo.world.rival import PLAN_FILE, PROBES_FILE, RIVAL, SERVES_FILE
from casework.models import Case
from casework.services import case_output_evidence_attach
from evidence.custody.canonical import file_sha256
from evidence.ingest.service import ingest_file
from evidence.models import Account, Canary, CanaryMatch, IngestBatch, ProbeExchange
from evidence.probes.canaries import canaries_generate, canaries_match


class DemoUseError(RuntimeError):
    """The scenario's rival files do not agree with what Pacta drew from their seed."""


def demo_ingest_once(*, kind: str, path: Path) -> str:
    """Ingest one of the scenario's files unless a committed batch already holds these very
    bytes: a rerun of the demo reuses its files and must not add a batch holding nothing."""
    with path.open("rb") as fh:
        sha256, _ = file_sha256(fh)
    taken = IngestBatch.objects.filter(
        kind=kind, raw_sha256=sha256, status=IngestBatch.Status.COMMITTED
    ).first()
    if taken is not None:
        return f"{kind}: {path.name} already in the record (batch {taken.pk}), not again"
    result = ingest_file(actor="system:demo", kind=kind, path=path, source="demo")
    return (
        f"{kind}: {result.accepted} accepted, {result.duplicates} duplicate, "
        f"{result.rejected} rejected (batch {result.batch})"
    )


def _plan(scenario_dir: Path) -> dict | None:
    path = scenario_dir / PLAN_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def demo_use_load(*, scenario_dir: Path) -> list[str]:
    """Plan the scenario's canaries (once), ingest its serve log and probe transcripts, and
    match. Safe to rerun: canaries already planned are kept, rows already stored count as
    duplicates, and matches already recorded are not recorded again. Nothing without the
    plan file (a scenario written before the rival was)."""
    plan = _plan(scenario_dir)
    if plan is None:
        return []
    lines = []
    wanted = [c["canary_id"] for c in plan["canaries"]]
    if not Canary.objects.filter(canary_id__in=wanted).exists():
        accounts = list(Account.objects.filter(account_id__in=plan["accounts"]))
        generated = canaries_generate(
            actor="system:demo", count=len(wanted), accounts=accounts, seed=plan["seed"]
        )
        drawn = sorted(c.canary_id for c in generated.canaries)
        if drawn != sorted(wanted):
            raise DemoUseError(
                f"{PLAN_FILE}: seed {plan['seed']} drew {', '.join(drawn)} in this record, "
                f"not the plan's {', '.join(sorted(wanted))}"
            )
        lines.append(f"canary set {generated.canary_set.pk}: {len(drawn)} canaries planned")
    for kind, name in (("serves", SERVES_FILE), ("probes", PROBES_FILE)):
        lines.append(demo_ingest_once(kind=kind, path=scenario_dir / name))
    matched = canaries_match(actor="system:demo")
    lines.append(
        f"canary matches: {len(matched['matches'])} ({matched['recorded']} new), "
        f"in {', '.join(matched['accounts_by_target']) or 'no target'}"
    )
    return lines


def demo_use_attach(*, case: Case, counsel, scenario_dir: Path) -> list[str]:
    """Attach the scenario's probe batch, the rival's identity claims (counted with the
    plan's provider names) and its canary matches to the demo case."""
    plan = _plan(scenario_dir)
    if plan is None:
        return []
    probe_ids = [
        json.loads(line)["probe_id"]
        for line in (scenario_dir / PROBES_FILE).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    batches = set(
        ProbeExchange.objects.filter(probe_id__in=probe_ids).values_list("batch_id", flat=True)
    )
    matches = CanaryMatch.objects.filter(
        canary__canary_id__in=[c["canary_id"] for c in plan["canaries"]],
        exchange__probe_id__in=probe_ids,
    ).values_list("pk", flat=True)
    attached = case_output_evidence_attach(
        actor=counsel,
        case=case,
        probe_batches=sorted(batches),
        claim_targets=[RIVAL],
        canary_matches=sorted(matches),
        names=plan["provider_names"],
    )
    if not attached:
        return []
    return [
        f"evidence of use attached: {len(batches)} probe batch(es), {RIVAL}'s identity "
        f"claims, {len(matches)} canary match(es)"
    ]
