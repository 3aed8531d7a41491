"""Preservation as the snapshot freezes it: the latest verification run, the case's and
its files' custody history, and the ledger entry the report certifies."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from casework.models import Case
from casework.reports.snapshot.values import iso
from evidence.custody.canonical import GENESIS_HASH
from evidence.custody.preservation import custody_history
from evidence.models import LedgerEntry, VerificationRun

CASE_CUSTODY_ENTRIES = 40
# Ledger actions that read or certify the record without changing what a report shows.
READ_ACTIONS = ("viewed", "exported", "verified", "timestamped")


def verification_collect() -> dict[str, Any] | None:
    run = VerificationRun.objects.order_by("-started_at", "-pk").first()
    if run is None:
        return None
    return verification_summary(run)


def verification_summary(run: VerificationRun) -> dict[str, Any]:
    """A verification run as a report prints it (sections 2 and 10)."""
    return {
        "id": run.pk,
        "ok": run.ok,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "checked": run.checked,
        "failures_total": run.failures_total,
        "failures": run.failures[:10],
        "ledger_head_seq": run.ledger_head_seq,
        "ledger_head_hash": run.ledger_head_hash,
    }


def _of_record_or_case(event: dict[str, Any], reference: str) -> bool:
    """An act on a shared record file belongs in this case's report only when it is the
    record's own (no case named) or this case's: what another case did with the file (cited
    it, downloaded it, held it) is that case's work product, never this report's."""
    details = event.get("details") or {}
    named = details.get("case", details.get("reference"))
    return named is None or named == reference


def custody_collect(case: Case, allegations: list[dict]) -> dict[str, Any]:
    entries = (
        LedgerEntry.objects.filter(object_type="case", object_id=case.reference)
        .exclude(action__in=READ_ACTIONS)
        .order_by("seq")
    )
    linked = LedgerEntry.objects.filter(
        object_type="account", action="linked", details__case=case.reference
    )
    items = {}
    for allegation in allegations:
        for item in allegation["supporting_evidence"]:
            items[item["id"]] = item
    files = []
    for item_id, item in sorted(items.items()):
        history = custody_history(object_type="evidence_item", object_id=item_id)
        files.append(
            {
                "id": item_id,
                "file_name": item["file_name"],
                "sha256": item["sha256"],
                "history": [
                    {
                        "at": iso(e["at"]),
                        "action": e["action"],
                        "actor": e["actor"],
                        "ledger_seq": e["ledger_seq"],
                    }
                    for e in history
                    if e["action"] not in ("viewed",) and _of_record_or_case(e, case.reference)
                ][:CASE_CUSTODY_ENTRIES],
            }
        )
    return {
        "case": [
            {
                "seq": e.seq,
                "at": iso(e.recorded_at),
                "action": e.action,
                "actor": e.actor,
                "entry_hash": e.entry_hash,
            }
            for e in entries[:CASE_CUSTODY_ENTRIES]
        ],
        "accounts_linked": linked.count(),
        "accounts_linked_first_seq": linked.order_by("seq").values_list("seq", flat=True).first(),
        "accounts_linked_last_seq": linked.order_by("-seq").values_list("seq", flat=True).first(),
        "files": files,
    }


def ledger_position(case: Case, data: dict[str, Any]) -> dict[str, Any]:
    """The latest ledger entry recording an act on what this report rests on.

    Each entry's hash covers every entry before it, so certifying this one certifies the
    chain up to it. It is case-scoped (not the global head) on purpose: reading the case,
    exporting a file or building a report appends entries too, and those must not turn an
    unchanged case into a new snapshot.
    """
    entry = (
        LedgerEntry.objects.filter(case_objects(case, data))
        .exclude(action__in=READ_ACTIONS)
        .order_by("-seq")
        .values_list("seq", "entry_hash")
        .first()
    )
    seq, entry_hash = entry if entry else (0, GENESIS_HASH)
    return {"seq": seq, "hash": entry_hash}


def case_objects(case: Case, data: dict[str, Any]) -> Q:
    """The ledger entries of what a report of the case rests on (`data`: its snapshot): the
    case, its accounts' links, the batches, Terms, clauses, files, catalogue and detection
    run it prints, the screens it shows. A final report attaches their extract
    (`casework.reports.final`)."""
    batch_ids = [str(b["id"]) for b in data["batches"]]
    versions = [str(t["version_id"]) for t in data["terms"]]
    clauses = [str(a["clause"]["id"]) for a in data["allegations"]]
    files = [str(f["id"]) for f in data["custody"]["files"]]
    relevant = (
        Q(object_type="case", object_id=case.reference)
        | Q(object_type="account", action="linked", details__case=case.reference)
        | Q(object_type="ingest_batch", object_id__in=batch_ids)
        | Q(object_type="terms_version", object_id__in=versions)
        | Q(object_type="clause", object_id__in=clauses)
        | Q(object_type="evidence_item", object_id__in=files)
        | Q(object_type__in=("modelrelease", "planlimit"))
    )
    screens = data.get("assent_screens") or []
    if screens:  # the screens shown: their collection and their linking to assent records
        relevant |= Q(object_type="assent_screen", object_id__in=[str(s["id"]) for s in screens])
        relevant |= Q(
            object_type="evidence_item", object_id__in=[str(s["evidence_item"]) for s in screens]
        )
    if data["detection"]:
        relevant |= Q(object_type="detection_run", object_id=str(data["detection"]["run"]["id"]))
    return relevant
