"""`production_build`: a case's report as a court filing copy, with the records beneath it
as natives the other side's eDiscovery platform loads.

A production is a folder:

- `filing/`: the report's pages as PDF/A-2b, tagged, Letter by default, with no embedded
  file, in volumes within the per-file limit (`filing.filing_write`); it cites each exhibit
  by control number and SHA-256 instead of carrying it;
- `natives/`: every exhibit of the edition (and, in the counsel edition, every evidence
  file the allegations cite), control-numbered, large ones in volumes (`natives`);
- `<CASE>-<edition>.dat`: the Concordance load file listing the natives;
- `manifest.json`: every file above with its SHA-256 and size, and
  `manifest.json.p7s`: a detached CMS signature over it, made with the reports' key and
  certificate and timestamped when a timestamp authority is configured.

The pages and exhibits come from the same preparation as a report (`report_prepare`: the
case frozen, the record's verification required, the edition's redactions applied), so a
production says what the report of the same snapshot says. The folder is built beside the
one asked for and renamed into place when complete: a failed build leaves nothing behind.
The ledger records the manifest's SHA-256 (and each evidence file handed over).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from casework.models import Case, ReportEdition
from casework.permissions import REPORT, case_require, editions_visible
from casework.production.filing import filing_write
from casework.production.natives import (
    LOAD_FILE_FIELDS,
    ControlNumbers,
    Native,
    NativeSource,
    file_sha256,
    load_file_write,
    natives_write,
)
from casework.reports.jobs import case_snapshot_keep
from casework.reports.pipeline import Prepared, Stages, report_prepare
from casework.reports.render import report_html
from casework.reports.signing import data_sign_detached
from casework.reports.snapshot import case_snapshot
from evidence.custody import events
from evidence.custody.ledger import Actor, is_system_actor
from evidence.models import EvidenceItem

SCHEMA = "pacta.production.manifest/1"
MANIFEST, SIGNATURE = "manifest.json", "manifest.json.p7s"
PAGE_SIZES = {"letter": "Letter", "a4": "A4"}
# Courts state their limits in decimal megabytes: a limit counted so is never overshot.
MEGABYTE = 1_000_000


class ProductionError(ValueError):
    """A production that cannot be built as asked; `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Production:
    folder: Path
    manifest: dict[str, Any]
    manifest_sha256: str

    def as_dict(self) -> dict[str, Any]:
        production = self.manifest["production"]
        return {
            "folder": str(self.folder),
            "case": production["case"],
            "edition": production["edition"],
            "manifest_sha256": self.manifest_sha256,
            "files": len(self.manifest["files"]),
            "filing": self.manifest["filing"],
            "natives": len(self.manifest["natives"]),
            "load_file": self.manifest["load_file"]["path"],
            "signature": production["signature"],
        }


def production_build(
    *,
    actor: Actor,
    case: Case,
    out_dir: Path,
    edition: str = ReportEdition.COUNSEL,
    max_file_mb: float = 35,
    page_size: str = "letter",
    progress: Callable[[str, int], None] | None = None,
) -> Production:
    """Build the case's production in `edition` into `out_dir` (new, or empty)."""
    out_dir = Path(out_dir)
    _check(actor, case, out_dir, edition, max_file_mb, page_size)
    limit = int(max_file_mb * MEGABYTE)
    generated_at = timezone.now().replace(microsecond=0)
    stages = Stages(None, report=progress)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        stages.enter("Freezing the case", 5)
        snapshot = case_snapshot(case=case)
        case_snapshot_keep(case=case, snapshot=snapshot)
        prepared = report_prepare(
            snapshot=snapshot,
            edition=edition,
            job_id=None,
            workdir=_folder(staging / ".work"),
            stages=stages,
            generated_at=generated_at,
            page_size=PAGE_SIZES[page_size.lower()],
            deflate=False,
        )
        stages.enter("Numbering the natives", 55)
        items = _evidence_files(snapshot.data) if edition == ReportEdition.COUNSEL else []
        natives = natives_write(
            root=staging,
            sources=_sources(prepared, items),
            numbers=ControlNumbers(),
            limit=limit,
            custodian=settings.PACTA_REPORT_ORGANISATION or "the provider",
        )
        stem = _safe(f"{case.reference}-{edition}")
        load_file = staging / f"{stem}.dat"
        _cite(prepared, natives, items, load_file.name, max_file_mb)

        stages.enter("Rendering the filing copy", 65)
        volumes = filing_write(
            html=report_html(prepared.context), root=staging, stem=f"{stem}-filing", limit=limit
        )

        stages.enter("Writing the load file and the manifest", 85)
        load_file_write(load_file, natives)
        shutil.rmtree(staging / ".work")
        manifest = _manifest(case, edition, prepared, volumes, natives, load_file)
        manifest["production"].update(page_size=PAGE_SIZES[page_size.lower()], max_file_bytes=limit)
        manifest_path = staging / MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")

        stages.enter("Signing the manifest", 90)
        signature = data_sign_detached(source=manifest_path, target=staging / SIGNATURE)
        manifest_sha256 = file_sha256(manifest_path)

        stages.enter("Recording the production in the ledger", 95)
        if out_dir.exists():
            out_dir.rmdir()  # checked empty above
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        with transaction.atomic():
            events.production_built(
                actor=actor,
                case=case,
                edition=edition,
                manifest_sha256=manifest_sha256,
                files=len(manifest["files"]),
                snapshot_sha256=snapshot.sha256,
                ledger_certified=snapshot.data["ledger"],
                filing_volumes=len(volumes),
                signature=signature,
            )
            for item in items:
                events.evidence_item_exported(actor=actor, item=item, case_reference=case.reference)
    except BaseException:
        # Unrecorded, the production must not be handed over: it is taken back.
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    stages.enter("Done", 100)
    manifest["production"]["signature"] = signature
    return Production(folder=out_dir, manifest=manifest, manifest_sha256=manifest_sha256)


def _check(actor, case, out_dir: Path, edition, max_file_mb, page_size) -> None:
    production_options_check(
        actor=actor, case=case, edition=edition, max_file_mb=max_file_mb, page_size=page_size
    )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ProductionError(
            f"{out_dir} exists and is not an empty folder: a production is written into a "
            "new one, never over another",
            field="out_dir",
        )
    if not out_dir.parent.is_dir():
        raise ProductionError(f"folder {out_dir.parent} does not exist", field="out_dir")


def production_options_check(*, actor, case, edition, max_file_mb, page_size) -> None:
    """Refuse a production the actor may not have, or asked for with bad options (checked
    when a job is requested, and again when it is built)."""
    if edition not in ReportEdition.values:
        raise ProductionError(
            f"unknown edition {edition!r}: use {', '.join(ReportEdition.values)}", field="edition"
        )
    if not is_system_actor(actor):
        case_require(actor, case, REPORT)
        if edition not in editions_visible(actor, case):
            raise ProductionError(
                f"your role on case {case.reference} does not see the {edition} edition",
                field="edition",
            )
    if not isinstance(max_file_mb, int | float) or not max_file_mb > 0:
        raise ProductionError(
            f"the per-file limit must be a positive number of megabytes, not {max_file_mb!r}",
            field="max_file_mb",
        )
    if str(page_size).lower() not in PAGE_SIZES:
        raise ProductionError(
            f"unknown page size {page_size!r}: use {' or '.join(PAGE_SIZES)}", field="page_size"
        )


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _evidence_files(data: dict[str, Any]) -> list[EvidenceItem]:
    """The evidence files the allegations cite, as frozen in the snapshot: each must still
    be the file the snapshot hashed."""
    frozen = {}
    for allegation in data.get("allegations", []):
        for item in allegation["supporting_evidence"]:
            frozen[item["id"]] = item
    items = EvidenceItem.objects.in_bulk(list(frozen))
    result = []
    for item_id in sorted(frozen):
        item = items.get(item_id)
        if item is None or item.sha256 != frozen[item_id]["sha256"]:
            raise ProductionError(
                f"evidence file {item_id} ({frozen[item_id]['file_name']}) is no longer the "
                "file the case snapshot hashed"
            )
        result.append(item)
    return result


def _sources(prepared: Prepared, items: list[EvidenceItem]) -> list[NativeSource]:
    date = prepared.generated_at.isoformat()
    sources = [
        NativeSource(
            file_name=e.file_name,
            sha256=e.sha256,
            size=e.size,
            source=f"Exhibit {e.number}: {e.title} ({e.nature})",
            date=date,
            exhibit=e.number,
            csv=e.mime == "text/csv",
            path=e.path,
        )
        for e in [*prepared.exhibits, prepared.manifest_exhibit]
    ]
    sources += [
        NativeSource(
            file_name=item.file_name,
            sha256=item.sha256,
            size=item.size,
            source=f"Evidence file {item.pk} ({item.kind}), from {item.source}, "
            f"collected by {item.collector_label}",
            date=item.collected_at.isoformat(),
            exhibit=None,
            csv=False,
            opener=item.file.open,
        )
        for item in items
    ]
    return sources


def _controls(natives: list[Native]) -> str:
    first, last = natives[0].control, natives[-1].control
    return first if first == last else f"{first} to {last}"


def _cite(prepared: Prepared, natives, items, load_file: str, max_file_mb) -> None:
    """The filing copy cites each exhibit (and cited file) by its control numbers."""
    by_exhibit: dict[int, list[Native]] = {}
    by_sha: dict[str, list[Native]] = {}
    for native in natives:
        if native.exhibit is not None:
            by_exhibit.setdefault(native.exhibit, []).append(native)
        else:
            by_sha.setdefault(native.whole_sha256, []).append(native)
    context = prepared.context
    for exhibit in context["exhibits"]:
        exhibit["control"] = _controls(by_exhibit[exhibit["number"]])
    context["manifest"]["control"] = _controls(by_exhibit[context["manifest"]["number"]])
    context["manifest"]["description"] = (
        "The SHA-256 of every exhibit, the snapshot hash and the ledger entry this production "
        "certifies."
    )
    for clause in context["clauses"]:
        for cited in clause["files"]:
            if cited["sha256"] in by_sha:
                cited["control"] = _controls(by_sha[cited["sha256"]])
    context["filing"] = {
        "load_file": load_file,
        "manifest": MANIFEST,
        "signature": SIGNATURE,
        "limit_mb": f"{max_file_mb:g}",
    }
    context["signature_level"] = (
        "CMS, detached, timestamped" if settings.PACTA_TSA_URL else "CMS, detached"
    )


def _manifest(case, edition, prepared: Prepared, volumes, natives, load_file: Path):
    files = [{"path": v.path, "sha256": v.sha256, "size": v.size} for v in volumes]
    files += [{"path": n.path, "sha256": n.sha256, "size": n.size} for n in natives]
    load = {
        "path": load_file.name,
        "sha256": file_sha256(load_file),
        "size": load_file.stat().st_size,
    }
    files.append(dict(load))
    return {
        "schema": SCHEMA,
        "production": {
            "case": case.reference,
            "edition": edition,
            "generated_at": prepared.generated_at.isoformat(),
            "organisation": settings.PACTA_REPORT_ORGANISATION,
            "signer": prepared.signer,
            "signature": {"file": SIGNATURE, "kind": prepared.context["signature_level"]},
            "snapshot_sha256": prepared.snapshot.sha256,
            "ledger": prepared.snapshot.data["ledger"],
        },
        "filing": [v.as_dict() for v in volumes],
        "natives": [n.as_dict() for n in natives],
        "load_file": {**load, "fields": [name for name, _ in LOAD_FILE_FIELDS]},
        "files": sorted(files, key=lambda f: f["path"]),
    }
