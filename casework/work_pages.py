"""HTML pages for long work on the record: run detection, upload a file to ingest, and
watch either go (a status card that updates in place, as a report's does).

Thin: the services (`evidence.detectors.jobs`, `evidence.ingest.jobs`) check the role and
queue the work; the selectors decide who may watch.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from evidence.access import RECORD_WRITER_ROLES, record_reader, record_writer
from evidence.detectors.jobs import detection_run_request
from evidence.detectors.selectors import detection_run_get, detection_run_list
from evidence.ingest.formats import FORMATS
from evidence.ingest.jobs import ingest_job_get, ingest_job_list, ingest_job_request
from evidence.ingest.service import KINDS, IngestUsageError
from evidence.models import DetectionRun, IngestBatch

RECENT = 20
FORMAT_LABELS = {
    "native": "Pacta's own (NDJSON)",
    "csv": "CSV with Pacta's column names",
    "litellm": "LiteLLM proxy SpendLogs",
    "bedrock": "AWS Bedrock invocation logs",
}


# --- Detection runs ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def detection_runs(request: HttpRequest) -> HttpResponse:
    """GET: the recent runs. POST: ask for a run (record writers), then watch it."""
    if request.method == "POST":
        run = detection_run_request(actor=request.user)  # PermissionDenied: 403
        return redirect("detection_run_page", pk=run.pk)
    if not record_reader(request.user):
        raise PermissionDenied("The record's detection runs are for its internal readers.")
    runs = detection_run_list(user=request.user)[:RECENT]
    return render(
        request,
        "record/detection_runs.html",
        {"runs": runs, "may_run": record_writer(request.user)},
    )


@login_required
@require_GET
def detection_run_page(request: HttpRequest, pk: int) -> HttpResponse:
    run = detection_run_get(user=request.user, pk=pk)
    if run is None:
        raise Http404("No such detection run.")
    return render(
        request,
        "record/detection_run.html",
        {
            "run": run,
            "progress": getattr(run, "progress", None),
            "in_progress": run.status in (DetectionRun.Status.QUEUED, DetectionRun.Status.RUNNING),
        },
    )


# --- Ingest uploads ----------------------------------------------------------------------


class IngestUploadForm(forms.Form):
    """What a file holds and how it is written. The file comes last in the form, so that
    these fields are read even when the file is refused for its size while it streams."""

    kind = forms.ChoiceField(
        choices=[(k, IngestBatch.Kind(k).label) for k in KINDS], label="The file holds"
    )
    format = forms.ChoiceField(
        choices=[(f, FORMAT_LABELS.get(f, f)) for f in FORMATS], label="Written as"
    )
    strict = forms.BooleanField(
        required=False,
        label="Refuse the whole file if any line is bad (strict)",
    )
    file = forms.FileField(label="File (NDJSON or CSV, optionally gzip-compressed)")


class _CappedUpload(TemporaryFileUploadHandler):
    """Straight to a temporary file on disk, a chunk at a time, never held whole in memory;
    stopped as soon as it passes `PACTA_INGEST_MAX_UPLOAD_BYTES`, as the API's upload is."""

    chunk_size = 1024 * 1024

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.limit = settings.PACTA_INGEST_MAX_UPLOAD_BYTES
        self.received = 0
        self.too_large = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            self.file.close()  # its temporary file goes with it
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


@csrf_exempt  # checked by `_ingest_upload` below, once the upload handlers are in place
@login_required
@require_http_methods(["GET", "POST"])
def ingest_upload(request: HttpRequest) -> HttpResponse:
    if not record_writer(request.user):
        raise PermissionDenied(
            f"Adding to the record is for the {', '.join(RECORD_WRITER_ROLES)} roles."
        )
    # Before the body is parsed (the CSRF check would parse it): files go to disk only.
    capped = _CappedUpload(request)
    request.upload_handlers = [capped]
    return _ingest_upload(request, capped)


@csrf_protect
def _ingest_upload(request: HttpRequest, capped: _CappedUpload) -> HttpResponse:
    form = IngestUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if capped.too_large:
            form.add_error(
                "file",
                f"The file is larger than the {capped.limit:,} bytes an upload may be; "
                "nothing was stored.",
            )
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            data = form.cleaned_data
            try:
                job = ingest_job_request(
                    actor=request.user,
                    kind=data["kind"],
                    fmt=data["format"],
                    strict=data["strict"],
                    source=IngestBatch.Source.WEB,
                    file_name=upload.name,
                    received=upload.temporary_file_path(),
                )
            except IngestUsageError as exc:
                form.add_error("format", str(exc))
            else:
                return redirect("ingest_job_page", pk=job.pk)
            finally:
                upload.close()  # the temporary file, if the job did not take it
    jobs = ingest_job_list(user=request.user)[:RECENT]
    return render(
        request,
        "record/ingest_upload.html",
        {"form": form, "jobs": jobs, "limit": settings.PACTA_INGEST_MAX_UPLOAD_BYTES},
        status=400 if form.errors else 200,
    )


@login_required
@require_GET
def ingest_job_page(request: HttpRequest, pk: int) -> HttpResponse:
    job = ingest_job_get(user=request.user, pk=pk)
    if job is None:
        raise Http404("No such ingest job.")
    result = job.result or {}
    return render(
        request,
        "record/ingest_job.html",
        {
            "job": job,
            "in_progress": job.in_progress,
            "errors": result.get("errors", []),
            "errors_total": result.get("errors_total", 0),
        },
    )
