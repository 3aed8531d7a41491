"""Productions from the UI and the API: counsel press "Build production" on the case, watch
its progress as they watch a report's, and download one zip that unzips into a production
`verify_production` passes. Only the case's members who may see the edition reach it; the
form is CSRF-protected, and each download is ledgered.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from casework.models import CaseRole, ProductionJob
from casework.production import production_verify
from casework.production.jobs import production_job_request
from casework.services import case_member_add
from casework.tasks import production_build_task
from evidence.models import LedgerEntry
from tests.casework.test_reports import case  # noqa: F401  (fixture)
from tests.factories import token_client, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def _download(response, target: Path) -> Path:
    """Write a streamed download to `target`, chunk by chunk, as a browser does."""
    assert response.streaming, "the zip must be streamed, not built in memory"
    with target.open("wb") as out:
        for chunk in response.streaming_content:
            out.write(chunk)
    return target


def _unzipped(path: Path, into: Path) -> Path:
    with zipfile.ZipFile(path) as archive:
        tops = {name.split("/", 1)[0] for name in archive.namelist()}
        assert len(tops) == 1, f"the zip holds one folder, not {sorted(tops)}"
        archive.extractall(into)
    return into / tops.pop()


def test_build_production_from_the_case_page_and_download_a_zip_that_verifies(
    case,  # noqa: F811
    counsel_user,
    tmp_path,
):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(counsel_user)
    page = browser.get(reverse("case_detail", args=[case.reference]))
    assert page.status_code == 200
    assert b"Build production" in page.content
    token = page.cookies["csrftoken"].value

    response = browser.post(
        reverse("case_production_request", args=[case.reference]),
        {"edition": "counsel", "page_size": "letter", "max_file_mb": "35",
         "csrfmiddlewaretoken": token},
    )  # fmt: skip
    job = ProductionJob.objects.get(case=case)
    assert response.status_code == 302
    assert response["Location"] == reverse("case_production", args=[case.reference, job.pk])
    assert job.status == ProductionJob.Status.QUEUED
    waiting = browser.get(response["Location"])
    assert b"casework/progress.js" in waiting.content and b"<progress" in waiting.content
    assert b"data-in-progress" in waiting.content

    result = production_build_task(job.pk)  # what the worker runs, given the id
    job.refresh_from_db()
    assert result["status"] == "done", job.failure_reason
    assert job.percent == 100 and job.zip_sha256 and job.manifest_sha256

    finished = browser.get(reverse("case_production", args=[case.reference, job.pk]))
    assert b"data-in-progress" not in finished.content
    assert job.zip_sha256.encode() in finished.content
    download = browser.get(reverse("case_production_zip", args=[case.reference, job.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert job.zip_name in download["Content-Disposition"]
    folder = _unzipped(_download(download, tmp_path / "production.zip"), tmp_path / "unzipped")

    verified = production_verify(folder)
    assert verified["ok"], verified["differences"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["production"]["case"] == case.reference
    assert manifest["production"]["page_size"] == "Letter"
    assert manifest["filing"] and manifest["natives"]
    assert LedgerEntry.objects.filter(
        object_type="production", object_sha256=job.manifest_sha256, action="created"
    ).exists()
    assert LedgerEntry.objects.filter(
        object_type="production_job", object_id=str(job.pk), action="exported",
        actor=counsel_user.username,
    ).exists()  # fmt: skip


def test_the_production_form_needs_its_csrf_token(case, counsel_user):  # noqa: F811
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(counsel_user)
    response = browser.post(
        reverse("case_production_request", args=[case.reference]), {"edition": "counsel"}
    )
    assert response.status_code == 403
    assert not ProductionJob.objects.exists()


def test_a_bad_limit_is_refused_naming_the_field(case, counsel_user):  # noqa: F811
    browser = Client()
    browser.force_login(counsel_user)
    response = browser.post(
        reverse("case_production_request", args=[case.reference]),
        {"edition": "counsel", "max_file_mb": "-3"},
        follow=True,
    )
    assert b"max_file_mb" in response.content
    assert not ProductionJob.objects.exists()


def test_only_members_who_see_the_edition_reach_a_production(case, counsel_user, tmp_path):  # noqa: F811
    job = production_job_request(actor=counsel_user, case=case, edition="counsel")
    production_build_task(job.pk)
    job.refresh_from_db()
    assert job.status == ProductionJob.Status.DONE, job.failure_reason
    outsider = user_with_role("mallory", "counsel")
    reviewer = user_with_role("rita")
    case_member_add(actor=counsel_user, case=case, user=reviewer, role=CaseRole.EXTERNAL_REVIEWER)
    viewer = user_with_role("victor")
    case_member_add(actor=counsel_user, case=case, user=viewer, role=CaseRole.VIEWER)

    for user in (outsider, reviewer):  # not a member; a member who does not see counsel's
        browser = Client()
        browser.force_login(user)
        for name in ("case_production", "case_production_zip"):
            response = browser.get(reverse(name, args=[case.reference, job.pk]))
            assert response.status_code == 404, (user.username, name)
        api = token_client(user, "read", "write")
        for name in ("production-detail", "production-zip"):
            url = reverse(f"casework_api:{name}", args=[case.reference, job.pk])
            assert api.get(url).status_code == 404, (user.username, name)
        listing = api.get(reverse("casework_api:production-list", args=[case.reference]))
        if user is reviewer:
            assert listing.status_code == 200 and listing.json()["results"] == []
        else:
            assert listing.status_code == 404

    browser = Client()
    browser.force_login(viewer)  # a member who may read but not build
    response = browser.post(
        reverse("case_production_request", args=[case.reference]), {"edition": "counsel"}
    )
    assert response.status_code == 403
    api = token_client(viewer, "read", "write")
    response = api.post(
        reverse("casework_api:production-list", args=[case.reference]),
        {"edition": "counsel"},
        format="json",
    )
    assert response.status_code == 403
    assert ProductionJob.objects.count() == 1
    assert not LedgerEntry.objects.filter(object_type="production_job", action="exported").exists()


def test_api_requests_a_production_polls_it_and_streams_the_zip(case, counsel_user, tmp_path):  # noqa: F811
    api = token_client(counsel_user, "read", "write")
    response = api.post(
        reverse("casework_api:production-list", args=[case.reference]),
        {"edition": "regulator", "page_size": "a4", "max_file_mb": "8"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    assert response["Location"] == reverse(
        "casework_api:production-detail", args=[case.reference, job_id]
    )
    again = api.post(
        reverse("casework_api:production-list", args=[case.reference]),
        {"edition": "regulator", "page_size": "a4", "max_file_mb": "8"},
        format="json",
    )
    assert again.json()["id"] == job_id  # asked twice while queued: one production

    zip_url = reverse("casework_api:production-zip", args=[case.reference, job_id])
    assert api.get(zip_url).status_code == 409  # not built yet

    production_build_task(job_id)
    detail = api.get(response["Location"]).json()
    assert detail["status"] == "done", detail["failure_reason"]
    assert detail["percent"] == 100
    download = api.get(zip_url)
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    folder = _unzipped(_download(download, tmp_path / "p.zip"), tmp_path / "unzipped")
    assert production_verify(folder)["ok"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["production"]["edition"] == "regulator"
    assert manifest["production"]["page_size"] == "A4"
    assert manifest["production"]["max_file_bytes"] == 8_000_000

    bad = api.post(
        reverse("casework_api:production-list", args=[case.reference]),
        {"edition": "counsel", "page_size": "legal"},
        format="json",
    )
    assert bad.status_code == 400 and "page_size" in json.dumps(bad.json())
