"""An investigator runs detection from the clusters page and watches it finish: the status
card updates in place (no page reload while it runs) and ends on the run's result, with a
link to its clusters. Screenshots go to var/screenshots/, each checked by axe-core."""

from __future__ import annotations

import re

import pytest

from evidence.ingest.service import ingest_file
from evidence.models import DetectionRun
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD, ndjson_file, usage_event, user_with_role

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media_root"),
]


def test_an_investigator_runs_detection_from_the_ui_and_sees_it_finish(page, tmp_path):
    from celery.contrib.testing.worker import start_worker

    from casework.config.celery import app as celery_app

    path = ndjson_file(tmp_path / "usage.ndjson", [usage_event(i) for i in range(90)])
    assert ingest_file(actor="system:test", kind="usage", path=path).accepted == 90
    user_with_role("ivan", "investigator")
    sign_in(page, "ivan", PASSWORD)
    page.goto("/clusters/")

    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = "memory://"
    try:
        with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            page.get_by_role("button", name="Run detection").click()
            page.wait_for_url(re.compile(r".*/detection-runs/\d+/$"))
            assert page.locator("#job-progress").count() == 1
            screenshot(page, "detection-run-progress")
            page.get_by_role("link", name="See the clusters").wait_for(timeout=120_000)
    finally:
        celery_app.conf.broker_url = saved
    run = DetectionRun.objects.get()
    assert run.status == DetectionRun.Status.FINISHED
    status = page.locator("#job-progress")
    assert "Finished" in status.inner_text()
    assert status.get_attribute("aria-live") == "polite"
    assert status.get_attribute("data-in-progress") is None
    screenshot(page, "detection-run-finished")
    page.get_by_role("link", name="See the clusters").click()
    page.wait_for_url("**/clusters/")
    assert f"detection run {run.pk}" in page.content()


def test_an_investigator_uploads_a_file_and_sees_its_batch_with_the_rejected_line(page, tmp_path):
    from celery.contrib.testing.worker import start_worker

    from casework.config.celery import app as celery_app

    rows = [usage_event(i) for i in range(30)]
    rows[6] = usage_event(6, input_tokens=-5)
    upload = ndjson_file(tmp_path / "march.ndjson", rows)
    user_with_role("ivan", "investigator")
    sign_in(page, "ivan", PASSWORD)
    page.goto("/clusters/")
    page.get_by_role("link", name="Add records from a file").click()
    page.wait_for_url("**/ingest/")
    page.get_by_label("The file holds").select_option("usage")
    page.get_by_label("Written as").select_option("native")
    page.get_by_label(re.compile("^File")).set_input_files(str(upload))
    screenshot(page, "ingest-upload")

    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = "memory://"
    try:
        with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            page.get_by_role("button", name="Upload and ingest").click()
            page.wait_for_url(re.compile(r".*/ingest/\d+/$"))
            page.get_by_role("heading", name="Rejected lines").wait_for(timeout=120_000)
    finally:
        celery_app.conf.broker_url = saved
    assert "Finished" in page.locator("#job-progress").inner_text()
    table = page.get_by_role("table", name="Rejected lines")
    assert table.get_by_role("cell", name="7", exact=True).count() == 1
    assert table.get_by_role("cell", name="input_tokens").count() == 1
    assert "29 accepted" in page.content()
    screenshot(page, "ingest-finished")
