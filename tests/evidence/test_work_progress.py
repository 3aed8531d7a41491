"""Long work started from the API or the UI — an ingest, a detection run — runs on a worker
and shows its progress as it goes, as a report does (issue #20)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from evidence.detectors.jobs import detection_run_carry_out, detection_runs_recover
from evidence.detectors.registry import signals
from evidence.ingest import jobs as ingest_jobs
from evidence.ingest.jobs import ingest_job_carry_out, ingest_jobs_recover
from evidence.ingest.service import ingest_file
from evidence.models import (
    DetectionProgress,
    DetectionRun,
    IngestBatch,
    IngestJob,
    LedgerEntry,
    UsageEvent,
)
from evidence.progress import DETECTION_LOCK_KEY, ProgressRecorder
from evidence.tasks import detection_run_task, ingest_job_task
from tests.factories import (
    ndjson_bytes,
    ndjson_file,
    token_client,
    usage_event,
    user_with_role,
)

pytestmark = [pytest.mark.usefixtures("media_root")]

INGEST_USAGE = "/api/v1/ingest/usage/"
NDJSON = "application/x-ndjson"
RUNS = "/api/v1/detection-runs/"


@pytest.fixture(autouse=True)
def _no_throttle_left():
    cache.clear()


@pytest.fixture
def sent_to_workers(monkeypatch) -> list[tuple]:
    """Tasks sent to the broker, kept here instead: a transactional test commits, and the
    task it queues must not wait in the broker for a later test's worker."""
    from celery import current_app

    sent: list[tuple] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kw: sent.append((name, kw)))
    return sent


@pytest.fixture
def spool(tmp_path, settings):
    """Where a page's upload streams to disk, so a test can see that nothing is left."""
    folder = tmp_path / "spool"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


@pytest.fixture
def investigator(db):
    return user_with_role("ivan", "investigator")


@pytest.fixture
def viewer(db):
    return user_with_role("vera", "viewer")


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def sent_tasks(callbacks) -> int:
    """How many callbacks the request left to run at commit (each sends one task)."""
    return len(callbacks)


def record_of(tmp_path, n: int = 60) -> None:
    """A small usage record three accounts share, ingested as the command does."""
    path = ndjson_file(tmp_path / "usage.ndjson", [usage_event(i) for i in range(n)])
    assert ingest_file(actor="system:test", kind="usage", path=path).accepted == n


def watched_from_outside(monkeypatch, model, fields: tuple[str, ...]) -> list[tuple]:
    """What a second session (the progress page's) reads of the progress row each time the
    recorder writes it: proof that progress is visible while the work's transaction is open."""
    seen: list[tuple] = []
    write = ProgressRecorder._write
    outside = connection.get_new_connection(connection.get_connection_params())
    outside.autocommit = True

    def spied(self):
        write(self)
        columns = ", ".join(fields)
        with outside.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {model._meta.db_table} WHERE {model._meta.pk.column} = %s",
                [self.pk],
            )
            seen.append(cursor.fetchone())

    monkeypatch.setattr(ProgressRecorder, "_write", spied)
    return seen


# --- ingest over the API, asynchronously ------------------------------------------------


@pytest.mark.django_db
def test_async_ingest_answers_202_with_the_job_and_the_worker_ingests_it(
    investigator, django_capture_on_commit_callbacks
):
    client = token_client(investigator, "ingest")
    body = ndjson_bytes([usage_event(i) for i in range(25)])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            INGEST_USAGE + "?async=true",
            data=body,
            content_type=NDJSON,
            HTTP_X_PACTA_FILE_NAME="jan.ndjson",
        )
    assert response.status_code == 202, response.content
    job = response.json()
    assert response["Location"] == f"/api/v1/ingest-jobs/{job['id']}/"
    assert job["status"] == "queued" and job["bytes_total"] == len(body)
    assert job["batch"] is None and job["file_name"] == "jan.ndjson"
    assert sent_tasks(queued) == 1
    assert UsageEvent.objects.count() == 0  # nothing until the worker ingests it

    assert ingest_job_task(job_id=job["id"])["status"] == "finished"
    polled = client.get(response["Location"]).json()
    assert polled["status"] == "finished" and polled["percent"] == 100
    assert polled["bytes_read"] == len(body) and polled["lines_read"] == 25
    assert polled["result"]["accepted"] == 25 and polled["result"]["file"] == "jan.ndjson"
    batch = IngestBatch.objects.get(pk=polled["batch"])
    assert batch.source == "api" and batch.collector == investigator
    # Ledgered under the name of the person who sent it, as a synchronous ingest is.
    entry = LedgerEntry.objects.filter(object_type="ingest_batch", object_id=str(batch.pk)).get()
    assert entry.actor == investigator.get_username()
    # The upload waited under the media folder and is gone once ingested.
    assert not list((ingest_jobs.settings.MEDIA_ROOT / "ingest-uploads").iterdir())
    # A second delivery of the task finds the job done and adds nothing.
    assert ingest_job_task(job_id=job["id"])["batch"] == batch.pk
    assert UsageEvent.objects.count() == 25


@pytest.mark.django_db
def test_without_asking_for_async_the_upload_still_answers_when_ingested(investigator):
    client = token_client(investigator, "ingest")
    response = client.post(INGEST_USAGE, data=ndjson_bytes([usage_event(1)]), content_type=NDJSON)
    assert response.status_code == 201 and response.json()["accepted"] == 1
    assert not IngestJob.objects.exists()


@pytest.mark.django_db
def test_prefer_respond_async_asks_the_same_and_a_bad_async_value_is_named(investigator):
    client = token_client(investigator, "ingest")
    body = ndjson_bytes([usage_event(1)])
    response = client.post(
        INGEST_USAGE, data=body, content_type=NDJSON, HTTP_PREFER="respond-async, wait=10"
    )
    assert response.status_code == 202 and response["Preference-Applied"] == "respond-async"
    bad = client.post(INGEST_USAGE + "?async=soon", data=body, content_type=NDJSON)
    assert bad.status_code == 400
    assert "async" in bad.json()["error"]["fields"]


@pytest.mark.django_db
def test_a_strict_async_ingest_with_a_bad_line_fails_naming_it_and_stores_nothing(investigator):
    client = token_client(investigator, "ingest")
    rows = [usage_event(i) for i in range(5)]
    rows[3] = usage_event(3, output_tokens="many")
    response = client.post(
        INGEST_USAGE + "?async=1&strict=true", data=ndjson_bytes(rows), content_type=NDJSON
    )
    job = ingest_job_carry_out(job_id=response.json()["id"])
    assert job.status == IngestJob.Status.FAILED
    assert "line 4" in job.failure_reason and "output_tokens" in job.failure_reason
    assert UsageEvent.objects.count() == 0
    assert job.batch.status == IngestBatch.Status.REJECTED  # the refusal is on record
    assert job.finished_at is not None and job.upload == ""


@pytest.mark.django_db
def test_an_unexpected_failure_fails_the_job_with_its_reason_and_leaves_no_rows(
    investigator, monkeypatch
):
    client = token_client(investigator, "ingest")
    response = client.post(
        INGEST_USAGE + "?async=true",
        data=ndjson_bytes([usage_event(i) for i in range(5)]),
        content_type=NDJSON,
    )

    def disk_full(**kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(ingest_jobs, "ingest_file", disk_full)
    job = ingest_job_carry_out(job_id=response.json()["id"])
    assert job.status == IngestJob.Status.FAILED
    assert "No space left on device" in job.failure_reason
    assert UsageEvent.objects.count() == 0 and job.batch is None


@pytest.mark.django_db
def test_who_may_send_and_watch_async_ingests(investigator, viewer):
    body = ndjson_bytes([usage_event(1)])
    anonymous = Client().post(INGEST_USAGE + "?async=true", data=body, content_type=NDJSON)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == 401
    read_only = token_client(investigator, "read")
    refused = read_only.post(INGEST_USAGE + "?async=true", data=body, content_type=NDJSON)
    assert refused.status_code == 403 and refused.json()["error"]["code"]
    sent = token_client(investigator, "ingest").post(
        INGEST_USAGE + "?async=true", data=body, content_type=NDJSON
    )
    location = sent["Location"]
    # A viewer reads the record (and its jobs) but may add nothing to it.
    as_viewer = signed_in(viewer)
    assert as_viewer.get(location).status_code == 200
    assert (
        as_viewer.post(INGEST_USAGE + "?async=true", data=body, content_type=NDJSON).status_code
        == 403
    )
    outsider = signed_in(user_with_role("rita", "external reviewer"))
    assert outsider.get(location).status_code == 404
    assert outsider.get("/api/v1/ingest-jobs/").json()["count"] == 0
    assert IngestJob.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_ingest_progress_moves_where_others_can_see_it_while_the_file_is_read(
    media_root, monkeypatch, sent_to_workers
):
    writer = user_with_role("ines", "investigator")
    client = token_client(writer, "ingest")
    rows = [usage_event(i) for i in range(5000)]
    rows[4200] = {"request_id": "req_broken"}
    response = client.post(
        INGEST_USAGE + "?async=true", data=ndjson_bytes(rows), content_type=NDJSON
    )
    seen = watched_from_outside(
        monkeypatch, IngestJob, ("bytes_read", "lines_read", "lines_rejected")
    )
    job = ingest_job_carry_out(job_id=response.json()["id"], every_seconds=0)
    assert job.status == IngestJob.Status.FINISHED
    # One figure a block of 2,000 lines, each seen by another session before the commit.
    lines = [row[1] for row in seen]
    assert lines[:3] == [2000, 4000, 5000]
    assert [row[2] for row in seen][:3] == [0, 0, 1]
    assert seen[0][0] > 0 and seen[0][0] <= job.bytes_total
    assert job.lines_read == 5000 and job.lines_rejected == 1
    assert job.result["errors"][0]["line"] == 4201


# --- detection runs over the API ---------------------------------------------------------


@pytest.mark.django_db
def test_a_detection_run_asked_for_over_the_api_runs_on_a_worker(
    investigator, tmp_path, django_capture_on_commit_callbacks
):
    record_of(tmp_path)
    client = token_client(investigator, "write")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(RUNS)
    assert response.status_code == 202, response.content
    run = response.json()
    assert response["Location"] == f"{RUNS}{run['id']}/"
    assert run["status"] == "queued" and run["requested_by"] == "ivan"
    assert run["progress"]["detectors_total"] == len(signals())
    assert run["progress"]["detectors_done"] == 0
    assert sent_tasks(queued) == 1

    assert detection_run_task(run_id=run["id"])["status"] == "finished"
    reader = token_client(investigator, "read")
    polled = reader.get(response["Location"]).json()
    assert polled["status"] == "finished" and polled["digest"]
    assert polled["progress"]["step"] == "finished" and polled["progress"]["percent"] == 100
    assert polled["progress"]["detectors_done"] == len(signals())
    assert polled["progress"]["accounts_active"] == 3
    assert polled["progress"]["rows_processed"] == 3 * len(signals())
    assert polled["clusters"] is not None
    # Ledgered as every run is, under the name of the person who asked.
    entry = LedgerEntry.objects.get(object_type="detection_run", object_id=str(run["id"]))
    assert entry.actor == "ivan" and entry.object_sha256 == polled["digest"]
    listed = reader.get(RUNS).json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]
    # A second delivery finds the run done: no second run, no second entry.
    detection_run_task(run_id=run["id"])
    assert DetectionRun.objects.count() == 1
    assert LedgerEntry.objects.filter(object_type="detection_run").count() == 1


@pytest.mark.django_db
def test_who_may_ask_for_and_watch_detection_runs(investigator, viewer):
    assert Client().post(RUNS).status_code == 401
    no_write = token_client(investigator, "read").post(RUNS)
    assert no_write.status_code == 403 and "write" in no_write.json()["error"]["message"]
    as_viewer = token_client(viewer, "write").post(RUNS)
    assert as_viewer.status_code == 403
    assert "investigator" in as_viewer.json()["error"]["message"]
    assert not DetectionRun.objects.exists()
    run = token_client(investigator, "write").post(RUNS).json()
    assert token_client(viewer, "read").get(f"{RUNS}{run['id']}/").status_code == 200
    outsider = token_client(user_with_role("rita", "external reviewer"), "read")
    assert outsider.get(f"{RUNS}{run['id']}/").status_code == 404


@pytest.mark.django_db
def test_a_detection_run_body_that_is_not_an_object_is_refused(investigator):
    # No body asks for the whole record; a body that is not a JSON object (null, a list)
    # is a mistake to name, not a request for the whole record.
    client = token_client(investigator, "write")
    for body in ("null", "[]", '"2026-01-01"'):
        response = client.post(RUNS, body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["code"]
    assert not DetectionRun.objects.exists()
    assert client.post(RUNS, "{}", content_type="application/json").status_code == 202


@pytest.mark.django_db
def test_a_failed_run_says_so_and_keeps_its_step(investigator, monkeypatch, tmp_path):
    record_of(tmp_path)
    run = token_client(investigator, "write").post(RUNS).json()

    def broken(*args, **kwargs):
        raise RuntimeError("the links pass broke")

    monkeypatch.setattr("evidence.detectors.service.links_find", broken)
    with pytest.raises(RuntimeError):
        detection_run_carry_out(run_id=run["id"])
    failed = DetectionRun.objects.get(pk=run["id"])
    assert failed.status == DetectionRun.Status.FAILED and "links pass broke" in failed.error
    progress = DetectionProgress.objects.get(pk=run["id"])
    assert progress.step == "failed: RuntimeError"
    assert progress.detectors_done == len(signals())  # how far it got


@pytest.mark.django_db(transaction=True)
def test_detection_progress_moves_where_others_can_see_it_during_the_run(
    media_root, tmp_path, monkeypatch, sent_to_workers
):
    record_of(tmp_path)
    writer = user_with_role("ines", "investigator")
    run = token_client(writer, "write").post(RUNS).json()
    seen = watched_from_outside(monkeypatch, DetectionProgress, ("step", "detectors_done"))
    detection_run_carry_out(run_id=run["id"], every_seconds=0)
    assert sent_to_workers == [
        ("evidence.tasks.detection_run_task", {"kwargs": {"run_id": run["id"]}})
    ]
    steps = [step for step, _ in seen]
    assert steps[0] == "reading the usage record"
    done = [n for _, n in seen]
    assert done == sorted(done) and done[-1] == len(signals())
    assert any(step.startswith("measuring: ") for step in steps)
    assert "storing findings, links and clusters" in steps
    # All of it was visible while the run's own transaction had committed nothing.
    assert DetectionRun.objects.get(pk=run["id"]).status == "finished"


# --- the pages ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_run_detection_from_the_clusters_page_and_watch_it(
    investigator, viewer, tmp_path, django_capture_on_commit_callbacks
):
    record_of(tmp_path)
    page = signed_in(investigator).get("/clusters/").content.decode()
    assert "Run detection" in page and 'action="/detection-runs/"' in page
    assert "Run detection" not in signed_in(viewer).get("/clusters/").content.decode()

    client = signed_in(investigator, enforce_csrf_checks=True)
    assert client.post("/detection-runs/").status_code == 403  # no CSRF token
    token = client.get("/clusters/").cookies["csrftoken"].value
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post("/detection-runs/", {"csrfmiddlewaretoken": token})
    run = DetectionRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/detection-runs/{run.pk}/"
    assert sent_tasks(queued) == 1
    waiting = client.get(response["Location"]).content.decode()
    assert 'id="job-progress" role="status" aria-live="polite" data-in-progress' in waiting
    assert "progress.js" in waiting and "waiting for a worker" in waiting
    assert "reload the page" in waiting  # without JavaScript

    detection_run_task(run_id=run.pk)
    done = client.get(response["Location"]).content.decode()
    assert "data-in-progress" not in done and "progress.js" not in done
    assert "Finished" in done and 'href="/clusters/"' in done
    assert f"{len(signals())} of {len(signals())} detectors measured" in done


@pytest.mark.django_db
def test_a_viewer_may_watch_but_not_run_detection_and_strangers_see_nothing(investigator, viewer):
    assert signed_in(viewer).post("/detection-runs/").status_code == 403
    assert Client().post("/detection-runs/").status_code == 302  # to sign in
    run = token_client(investigator, "write").post(RUNS).json()
    assert signed_in(viewer).get(f"/detection-runs/{run['id']}/").status_code == 200
    outsider = signed_in(user_with_role("rita", "external reviewer"))
    assert outsider.get(f"/detection-runs/{run['id']}/").status_code == 404
    assert outsider.get("/detection-runs/").status_code == 403


@pytest.mark.django_db
def test_upload_a_file_from_the_page_and_see_its_batch_with_rejected_lines_named(
    investigator, django_capture_on_commit_callbacks, spool, tmp_path
):
    rows = [usage_event(i) for i in range(6)]
    rows[2] = usage_event(2, model=None)
    client = signed_in(investigator)
    form = client.get("/ingest/").content.decode()
    assert 'enctype="multipart/form-data"' in form and "csrfmiddlewaretoken" in form
    upload = tmp_path / "feb.ndjson"
    upload.write_bytes(ndjson_bytes(rows))
    with upload.open("rb") as handle, django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post("/ingest/", {"kind": "usage", "format": "native", "file": handle})
    job = IngestJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/ingest/{job.pk}/"
    assert sent_tasks(queued) == 1 and job.source == "web" and job.file_name == "feb.ndjson"
    assert not list(spool.iterdir())  # the spooled copy went to the job, none left behind
    assert "data-in-progress" in client.get(response["Location"]).content.decode()

    ingest_job_task(job_id=job.pk)
    page = client.get(response["Location"]).content.decode()
    assert "data-in-progress" not in page
    assert re.search(r"5 accepted, 0 duplicates, 1 rejected", page)
    assert "<td>3</td><td>model</td>" in page  # the rejected line, by number and field
    assert f"Batch {IngestJob.objects.get().batch_id}" in page


@pytest.mark.django_db
def test_the_upload_page_refuses_viewers_big_files_and_missing_csrf(
    investigator, viewer, settings, spool, tmp_path
):
    assert signed_in(viewer).get("/ingest/").status_code == 403
    upload = tmp_path / "big.ndjson"
    upload.write_bytes(ndjson_bytes([usage_event(i) for i in range(50)]))
    settings.PACTA_INGEST_MAX_UPLOAD_BYTES = 1000
    with upload.open("rb") as handle:
        response = signed_in(investigator).post(
            "/ingest/", {"kind": "usage", "format": "native", "file": handle}
        )
    assert response.status_code == 400
    assert "larger than the 1,000 bytes" in response.content.decode()
    assert not IngestJob.objects.exists()
    assert not list(spool.iterdir())
    strict_client = signed_in(investigator, enforce_csrf_checks=True)
    with upload.open("rb") as handle:
        refused = strict_client.post("/ingest/", {"kind": "usage", "file": handle})
    assert refused.status_code == 403 and not IngestJob.objects.exists()


@pytest.mark.django_db
def test_a_format_that_cannot_carry_the_kind_is_said_beside_the_field(investigator, tmp_path):
    upload = tmp_path / "a.ndjson"
    upload.write_bytes(b"{}\n")
    with upload.open("rb") as handle:
        response = signed_in(investigator).post(
            "/ingest/", {"kind": "accounts", "format": "bedrock", "file": handle}
        )
    assert response.status_code == 400
    assert "carries usage events only" in response.content.decode()
    assert not IngestJob.objects.exists()


@pytest.mark.django_db
def test_a_run_may_be_asked_for_a_window_and_a_backwards_one_is_named(investigator, tmp_path):
    record_of(tmp_path)
    client = token_client(investigator, "write")
    backwards = client.post(
        RUNS,
        {"window_start": "2026-02-01T00:00:00Z", "window_end": "2026-01-01T00:00:00Z"},
        format="json",
    )
    assert backwards.status_code == 400 and "window_end" in backwards.json()["error"]["fields"]
    assert not DetectionRun.objects.exists()
    asked = client.post(
        RUNS,
        {"window_start": "2026-01-05T10:00:00Z", "window_end": "2026-01-05T10:00:30Z"},
        format="json",
    ).json()
    run = detection_run_carry_out(run_id=asked["id"])
    assert run.status == DetectionRun.Status.FINISHED
    assert run.window_start.isoformat() == "2026-01-05T10:00:00+00:00"
    assert run.window_end.isoformat() == "2026-01-05T10:00:30+00:00"


# --- a worker that stops mid-way -------------------------------------------------------


@pytest.mark.django_db
def test_work_left_running_by_a_stopped_worker_is_queued_again_and_a_live_one_is_left(
    investigator, tmp_path
):
    record_of(tmp_path)
    job_id = (
        token_client(investigator, "ingest")
        .post(
            INGEST_USAGE + "?async=true", data=ndjson_bytes([usage_event(1)]), content_type=NDJSON
        )
        .json()["id"]
    )
    runs = [token_client(investigator, "write").post(RUNS).json()["id"] for _ in "ab"]
    # A worker was killed mid-ingest and mid-run: its rows say running, no lock is held.
    IngestJob.objects.filter(pk=job_id).update(status="running", lines_read=7)
    DetectionRun.objects.filter(pk__in=runs).update(status="running")
    # ...but the second run's worker is alive: it holds the run's lock on its connection.
    live = connection.get_new_connection(connection.get_connection_params())
    live.autocommit = True
    with live.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [DETECTION_LOCK_KEY, runs[1]])
    try:
        assert ingest_jobs_recover() == [job_id]
        assert detection_runs_recover() == [runs[0]]
        assert DetectionRun.objects.get(pk=runs[1]).status == "running"
        # The live worker's run is not carried out twice.
        assert detection_run_carry_out(run_id=runs[1]).status == "running"
    finally:
        live.close()
    job = IngestJob.objects.get(pk=job_id)
    assert job.status == "queued" and job.lines_read == 0
    assert ingest_job_carry_out(job_id=job_id).status == IngestJob.Status.FINISHED
    assert detection_run_carry_out(run_id=runs[0]).status == DetectionRun.Status.FINISHED
