"""The report build: from the job's frozen snapshot to a signed PDF kept as evidence.

The build moves the job through its stages with a percentage and stores everything it
made (exhibits, manifest, signed PDF), the ledger entries and the `done` status in one
transaction under the job's row lock. A build that dies before that transaction leaves no
report behind; the next one starts again from the snapshot. So a build run twice, or
after a crash, yields one report.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from casework.models import Case, ReportJob
from casework.reports.chart_data import ChartSource, rhythm_source, signal_source, volume_source
from casework.reports.context import EDITION_LABELS, report_context
from casework.reports.exhibits import Exhibit, ExhibitError, exhibit_public_ok, exhibits_write
from casework.reports.final import (
    declarant,
    final_exhibits,
    final_requirements,
    sign_off_context,
    timestamp_require,
)
from casework.reports.jobs import (
    ReportError,
    ReportTransientError,
    build_lock,
    report_job_fail,
    report_job_requeue,
    report_job_snapshot,
)
from casework.reports.pseudonyms import pseudonym_key
from casework.reports.redaction import Redactor
from casework.reports.render import (
    report_html,
    report_render,
    signed_revision_prepare,
    streamed,
    svg_data_uri,
)
from casework.reports.signing import SigningError, report_sign, signer_subject
from casework.reports.snapshot import Snapshot
from evidence.custody import events
from evidence.custody.canonical import canonical_json, json_native, sha256_hex
from evidence.custody.ledger import Actor
from evidence.custody.verification import verification_latest
from evidence.services import evidence_item_keep

logger = logging.getLogger(__name__)

MANIFEST_SCHEMA = "pacta.report.manifest/1"
SECTIONS = (
    ("cover", "Cover"),
    ("summary", "Executive summary and findings"),
    ("parties", "Parties and attribution"),
    ("formation", "Contract formation"),
    ("clauses", "Clauses breached"),
    ("chronology", "Chronology and summary charts (FRE 1006)"),
    ("methodology", "Methodology"),
    ("output_use", "Use of the outputs"),
    ("damages", "Damages"),
    ("countermeasures", "Countermeasures and notice"),
    ("preservation", "Preservation and chain of custody"),
    ("certification", "Certification"),
    ("exhibits", "Exhibit index"),
    ("redactions", "Redaction log"),
)


class Stages:
    """The job's progress: each stage is written at once (autocommit), so anyone polling
    the job sees it, and the time each stage took is kept for the report's ledger entry."""

    def __init__(
        self, job: ReportJob | None, *, report: Callable[[str, int], None] | None = None
    ) -> None:
        # A production has no job: its stages go to `report` (the command prints them).
        self.job = job
        self.report = report
        self.seconds: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def enter(self, stage: str, percent: int) -> None:
        _memory_check(stage)
        self._close()
        self._current = (stage, time.perf_counter())
        if self.job is not None:
            ReportJob.objects.filter(pk=self.job.pk).update(stage=stage[:100], percent=percent)
            self.job.stage, self.job.percent = stage, percent
            logger.info("report job %s: %s (%s%%)", self.job.pk, stage, percent)
        if self.report is not None:
            self.report(stage, percent)

    def _close(self) -> None:
        if self._current is not None:
            stage, started = self._current
            self.seconds[stage] = round(time.perf_counter() - started, 3)

    def as_dict(self) -> dict[str, float]:
        self._close()
        self._current = None
        return dict(self.seconds)


def _memory_check(stage: str) -> None:
    limit = settings.PACTA_REPORT_MAX_MEMORY_MB
    if not limit:
        return
    rss = psutil.Process().memory_info().rss / 2**20
    if rss > limit:
        raise ReportError(
            f"memory limit exceeded while {stage.lower()}: {rss:,.0f} MB in use, the limit "
            f"(PACTA_REPORT_MAX_MEMORY_MB) is {limit:,} MB"
        )


def report_build(*, job: ReportJob) -> ReportJob:
    """Build the job's report unless it is built, or being built; return the job.

    A permanent failure marks the job failed with its reason (and returns it); a transient
    one puts the job back in the queue and raises `ReportTransientError` for a retry.
    """
    with build_lock(job.pk) as acquired:
        job = ReportJob.objects.select_related("case", "requested_by").get(pk=job.pk)
        if not acquired or job.status in (ReportJob.Status.DONE, ReportJob.Status.FAILED):
            return job
        ReportJob.objects.filter(pk=job.pk).update(
            status=ReportJob.Status.RUNNING,
            started_at=timezone.now(),
            finished_at=None,
            failure_reason="",
        )
        workdir = Path(tempfile.mkdtemp(prefix=f"pacta-report-{job.pk}-", dir=build_workdir()))
        try:
            _build(job, workdir, Stages(job))
        except (OperationalError, InterfaceError, ReportTransientError) as exc:
            report_job_requeue(job, exc)
            raise ReportTransientError(str(exc)) from exc
        except Exception as exc:
            logger.exception("report job %s failed", job.pk)
            report_job_fail(job_id=job.pk, reason=_reason(exc))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return ReportJob.objects.get(pk=job.pk)


def build_workdir() -> str | None:
    """Where builds (reports, productions) write their work files: PACTA_REPORT_WORK_DIR,
    else the system's temporary folder."""
    folder = settings.PACTA_REPORT_WORK_DIR
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return folder or None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ReportError | ExhibitError | SigningError):
        return str(exc)
    if isinstance(exc, SoftTimeLimitExceeded):
        return f"the build exceeded its time limit ({settings.PACTA_REPORT_SOFT_TIME_LIMIT} s)"
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Prepared:
    """What a build makes before any page is rendered: the snapshot read through one
    edition, its exhibits written and hashed, the exhibits' manifest, and the context the
    template prints. A report renders it with the exhibits attached; a production
    (`casework.production`) renders the same pages citing them instead."""

    snapshot: Snapshot
    context: dict[str, Any]
    exhibits: list[Exhibit]
    manifest: dict[str, Any]
    manifest_exhibit: Exhibit
    generated_at: dt.datetime
    signer: str
    # The edition's redactor, which also names the people the sign-off block prints.
    redactor: Redactor


def report_prepare(
    *,
    actor: Actor,
    case: Case,
    snapshot: Snapshot,
    edition: str,
    job_id: int | None,
    workdir: Path,
    stages: Stages,
    generated_at: dt.datetime,
    page_size: str,
    deflate: bool = True,
    supplements: Callable[[Path, int], list[Exhibit]] | None = None,
    status: str | None = None,
) -> Prepared:
    """Check the record, write the edition's exhibits and manifest, draw the charts and
    assemble the template's context (`deflate`: see `exhibits.exhibits_write`). `actor` is
    who the build is for: the ledger names them if the edition's pseudonym key is drawn.
    `supplements(workdir, first_number)` writes exhibits after the edition's own (a final
    report's verification and ledger extract); `status` (draft or final) goes in the
    manifest."""
    verification_require(snapshot)

    stages.enter("Applying the edition's redactions", 10)
    redactor = Redactor(edition, secret=pseudonym_key(actor=actor, case=case, edition=edition))
    context = report_context(
        data=snapshot.data,
        edition=edition,
        redactor=redactor,
        table_rows=settings.PACTA_REPORT_TABLE_ROWS,
    )
    report_data = canonical_json(json_native(context)).encode("utf-8")

    # The charts need only the snapshot, so they are drawn in a second thread while the
    # exhibits are written: a usage exhibit's rows spend most of their time in PostgreSQL
    # and in compression, which leave this process's interpreter free for matplotlib.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-charts") as pool:
        drawing = pool.submit(_charts_draw, snapshot, context)
        stages.enter("Writing exhibits", 15)
        exhibits = exhibits_write(
            snapshot=snapshot,
            redactor=redactor,
            workdir=workdir,
            report_data=report_data,
            progress=lambda stage: stages.enter(stage.capitalize(), 25),
            deflate=deflate,
        )
        if redactor.public and not exhibit_public_ok(exhibits):
            raise ReportError("the public edition must carry aggregates only")
        if supplements is not None:
            exhibits = [*exhibits, *supplements(workdir, len(exhibits) + 1)]

        stages.enter("Writing the manifest", 45)
        signer = signer_subject()
        manifest = _manifest(job_id, edition, snapshot, exhibits, generated_at, signer)
        if status is not None:
            manifest["report"]["status"] = status
        manifest_exhibit = _write_manifest(workdir, manifest, number=len(exhibits) + 1)

        stages.enter("Drawing the charts", 50)
        drawn = drawing.result()
    context.update(
        {
            "charts": drawn["uris"],
            "chart_notes": drawn["notes"],
            "sections": [{"id": key, "title": title} for key, title in SECTIONS],
            "exhibits": [
                {**e.as_dict(), "rows_display": "—" if e.rows is None else f"{e.rows:,}"}
                for e in exhibits
            ],
            "manifest": {**manifest_exhibit.as_dict(), "document": manifest},
            "snapshot_sha256": snapshot.sha256,
            "generated_at": generated_at.strftime("%Y-%m-%d %H:%M UTC"),
            "generated_date": generated_at.strftime("%d %B %Y").lstrip("0"),
            "job": job_id,
            "organisation": settings.PACTA_REPORT_ORGANISATION,
            "signer": signer,
            "signature_level": "PAdES B-T" if settings.PACTA_TSA_URL else "PAdES B-B",
            "declarant": declarant(),
            "redactions": redactor.log.as_list(),
            "page_size": page_size,
            "edition_label": EDITION_LABELS[edition],
        }
    )
    return Prepared(
        snapshot=snapshot,
        context=context,
        exhibits=exhibits,
        manifest=manifest,
        manifest_exhibit=manifest_exhibit,
        generated_at=generated_at,
        signer=signer,
        redactor=redactor,
    )


def verification_require(snapshot: Snapshot) -> None:
    """Refuse to certify a record that failed verification: the run frozen with the
    snapshot, or any run since (a forgery found after the request must not be signed)."""
    verification = snapshot.data["verification"]
    runs = []
    if verification is not None:
        runs.append((verification["id"], verification["ok"], verification["failures_total"]))
    latest = verification_latest()
    if latest is not None:
        runs.append((latest.pk, latest.ok, latest.failures_total))
    for run_id, ok, total in runs:
        if not ok:
            raise ReportError(
                f"the record failed verification run {run_id} ({total} failures): a report "
                "cannot certify it; investigate, verify again, then request the report"
            )


def _build(job: ReportJob, workdir: Path, stages: Stages) -> None:
    generated_at = timezone.now().replace(microsecond=0)
    stages.enter("Reading the frozen case", 5)
    snapshot = report_job_snapshot(job=job)
    basis = None
    if job.final:
        stages.enter("Checking the sign-off and verifying the record", 7)
        basis = final_requirements(job=job)

    def supplements(folder: Path, first: int) -> list[Exhibit]:
        return final_exhibits(job=job, snapshot=snapshot, basis=basis, workdir=folder, first=first)

    prepared = report_prepare(
        actor=job.requested_by,
        case=job.case,
        snapshot=snapshot,
        edition=job.edition,
        job_id=job.pk,
        workdir=workdir,
        stages=stages,
        generated_at=generated_at,
        page_size=settings.PACTA_REPORT_PAGE_SIZE,
        supplements=supplements if basis is not None else None,
        status="final" if job.final else "draft",
    )
    context, exhibits = prepared.context, prepared.exhibits
    context.update(sign_off_context(job=job, basis=basis, redactor=prepared.redactor))
    manifest_exhibit = prepared.manifest_exhibit

    stages.enter("Rendering the pages", 55)
    html = report_html(context)
    if settings.PACTA_REPORT_KEEP_HTML:
        Path(settings.PACTA_REPORT_KEEP_HTML).write_text(html, encoding="utf-8")
    attachments = [*exhibits, manifest_exhibit]
    unsigned = workdir / "unsigned.pdf"
    rendered = report_render(html=html, exhibits=attachments, target=unsigned, created=generated_at)

    stages.enter("Signing", 80)
    signed = workdir / "report.pdf"
    large = streamed(attachments)
    try:
        signature = report_sign(
            source=unsigned,
            target=signed,
            reason=f"Evidentiary report {job.case.reference} ({job.edition} edition); "
            f"snapshot {snapshot.sha256}",
            location=settings.PACTA_REPORT_SIGNING_LOCATION,
            prepare=lambda writer: signed_revision_prepare(writer, large, created=generated_at),
        )
    except SigningError as exc:
        if isinstance(exc.__cause__, OSError | TimeoutError):
            raise ReportTransientError(str(exc)) from exc
        raise
    if basis is not None and settings.PACTA_TSA_URL:
        timestamp_require(signed)

    stages.enter("Storing the report as evidence", 90)
    sign_off = basis.as_dict() if basis is not None else None
    _store(job, snapshot, attachments, signed, rendered.pages, signature, stages, sign_off)


def _charts_draw(snapshot: Snapshot, context: dict[str, Any]) -> dict[str, Any]:
    """The report's three summary charts as data URIs, each drawn from the rows of the
    exhibit it names (FRE 1006), and the notes their captions print: the exhibit and what
    the chart leaves out."""
    from casework.reports import charts  # matplotlib: imported by the builds that draw

    sources = chart_sources(snapshot, context)
    draw = {"volume": charts.volume_chart, "rhythm": charts.rhythm_chart,
            "signal": charts.signal_chart}  # fmt: skip
    return {
        "uris": {name: svg_data_uri(draw[name](source)) for name, source in sources.items()},
        "notes": {name: source.as_note() if source else None for name, source in sources.items()},
    }


def chart_sources(snapshot: Snapshot, context: dict[str, Any]) -> dict[str, ChartSource | None]:
    """What each chart plots, from the snapshot and the chronology's events."""
    data = snapshot.data
    chart_events = [
        {"day": e["at"][:10], "kind": e["kind"], "label": _event_label(e)}
        for e in context["chronology"]["events"]
    ]
    return {
        "volume": volume_source(data, chart_events),
        "rhythm": rhythm_source(data),
        "signal": signal_source(data),
    }


def _event_label(event: dict[str, Any]) -> str:
    text = event["text"]
    if text.startswith("Suspension"):
        return "Account suspended (last request)"
    if text.startswith("Rate limits"):
        return "First HTTP 429 (rate limit enforced)"
    return text


def _manifest(
    job_id, edition, snapshot, exhibits: list[Exhibit], generated_at, signer
) -> dict[str, Any]:
    data = snapshot.data
    verification = data["verification"]
    return {
        "schema": MANIFEST_SCHEMA,
        "report": {
            "case": data["case"]["reference"],
            "edition": edition,
            "job": job_id,
            "generated_at": generated_at.isoformat(),
            "organisation": settings.PACTA_REPORT_ORGANISATION,
            "signer": signer,
        },
        "snapshot_sha256": snapshot.sha256,
        "ledger": data["ledger"],
        "verification": None
        if verification is None
        else {"run": verification["id"], "ok": verification["ok"],
              "finished_at": verification["finished_at"]},
        "exhibits": [
            {k: v for k, v in e.as_dict().items() if k != "description"} for e in exhibits
        ],
    }  # fmt: skip


def _write_manifest(workdir: Path, manifest: dict, *, number: int) -> Exhibit:
    payload = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    path = workdir / "manifest.json"
    path.write_bytes(payload)
    return Exhibit(
        number=number,
        file_name="manifest.json",
        title="Manifest",
        description="The SHA-256 of every exhibit, the snapshot hash and the ledger entry "
        "the report certifies; Pacta's verify_report command checks the file against it.",
        path=path,
        rows=None,
        sha256=sha256_hex(payload),
        size=len(payload),
        relationship="Supplement",
        mime="application/json",
        nature="analysis",
    )


def _store(job, snapshot, attachments, signed: Path, pages, signature, stages, sign_off) -> None:
    """Everything the build made becomes evidence, with the job's `done`, in one transaction."""
    actor = job.requested_by
    source = f"report job {job.pk} ({job.case.reference}, {job.edition} edition)"
    with transaction.atomic():
        locked = ReportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status == ReportJob.Status.DONE:
            return
        kinds = {"manifest.json": "manifest"}
        stored = []
        # The files were written by this build, in its own folder: they are moved into
        # storage, each hashed once more where it lies, rather than copied.
        for exhibit in attachments:
            item = evidence_item_keep(
                actor=actor,
                path=exhibit.path,
                file_name=f"{job.case.reference}-{job.edition}-{exhibit.file_name}",
                kind=kinds.get(exhibit.file_name, "exhibit"),
                source=source,
                description=f"Exhibit {exhibit.number}: {exhibit.title}",
            )
            if item.sha256 != exhibit.sha256:
                raise ReportError(f"{exhibit.file_name} changed on disk while being stored")
            stored.append({"file_name": exhibit.file_name, "sha256": item.sha256,
                           "evidence_item": item.pk})  # fmt: skip
        pdf = evidence_item_keep(
            actor=actor,
            path=signed,
            file_name=f"{job.case.reference}-{job.edition}-report.pdf",
            kind="report_pdf",
            source=source,
            description=f"Signed evidentiary report, {job.edition} edition, "
            f"{'final' if job.final else 'draft for review'}, {pages} pages",
        )
        events.report_built(
            actor=actor,
            job=job,
            pdf=pdf,
            ledger_certified=snapshot.data["ledger"],
            pages=pages,
            signature=signature,
            attachments=stored,
            seconds_by_stage=stages.as_dict(),
            sign_off=sign_off,
        )
        locked.status = ReportJob.Status.DONE
        locked.pdf = pdf
        locked.stage, locked.percent = "Done", 100
        locked.finished_at = timezone.now()
        locked.failure_reason = ""
        locked.save(
            update_fields=["status", "pdf", "stage", "percent", "finished_at", "failure_reason"]
        )
