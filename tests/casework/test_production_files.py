"""A production's files one by one over the API, and old production zips removed.

The other side's platform may fetch a production file by file: the API lists the manifest's
files and streams each from the zip, only under a path the manifest lists (no path a client
makes up reaches anything else), to those who may download the zip, each download
ledgered like the zip's; the files fetched one by one are a production that verifies.
Past PACTA_PRODUCTION_RETENTION_DAYS a zip is removed; the job keeps the manifest and the
ledger every entry about it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from casework.models import ProductionJob
from casework.production import production_verify
from casework.production.jobs import production_job_request
from casework.production.retention import production_zips_expire
from casework.services import case_hold_place
from casework.tasks import production_build_task, production_zips_expire_task
from evidence.models import LedgerEntry
from tests.casework.test_reports import case  # noqa: F401  (fixture)
from tests.factories import token_client, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def built(case, counsel_user):  # noqa: F811
    job = production_job_request(actor=counsel_user, case=case, edition="counsel")
    production_build_task(job.pk)
    job.refresh_from_db()
    assert job.status == ProductionJob.Status.DONE, job.failure_reason
    return job


def _urls(job):
    ref = job.case.reference
    return (
        reverse("casework_api:production-file-list", args=[ref, job.pk]),
        reverse("casework_api:production-zip", args=[ref, job.pk]),
    )


def _body(response) -> bytes:
    assert response.streaming, "a file is streamed from the zip, not read whole"
    return b"".join(response.streaming_content)


def test_each_file_is_listed_streamed_and_ledgered_and_they_verify(built, counsel_user, tmp_path):
    api = token_client(counsel_user, "read")
    listing = api.get(_urls(built)[0])
    assert listing.status_code == 200, listing.json()
    document = listing.json()
    assert document["manifest_sha256"] == built.manifest_sha256
    files = document["files"]
    assert [f["path"] for f in files[:2]] == ["manifest.json", "manifest.json.p7s"]
    assert files[0]["sha256"] == built.manifest_sha256
    paths = {f["path"] for f in files}
    assert any(p.startswith("filing/") for p in paths) and any(
        p.startswith("natives/") for p in paths
    )
    folder = tmp_path / "fetched"
    for entry in files:
        response = api.get(entry["url"])
        assert response.status_code == 200, entry["path"]
        body = _body(response)
        assert hashlib.sha256(body).hexdigest() == entry["sha256"] == response["X-Pacta-SHA256"]
        assert len(body) == entry["size"] == int(response["Content-Length"])
        target = folder / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    verified = production_verify(folder)
    assert verified["ok"], verified["differences"]
    downloads = LedgerEntry.objects.filter(
        object_type="production_job", object_id=str(built.pk), action="exported"
    )
    assert downloads.count() == len(files)
    natives = next(f for f in files if f["path"].startswith("natives/"))
    entry = downloads.get(details__file_name=natives["path"])
    assert entry.object_sha256 == natives["sha256"]
    assert entry.actor == counsel_user.username
    assert entry.details["in_production"] == built.zip_name


@pytest.mark.parametrize(
    "path",
    [
        "../../../etc/passwd",
        "natives/../manifest.json",
        "%2Fetc%2Fpasswd",
        "natives/",
        "natives/..%2F..%2Fsettings.py",
        "filing",
        "MANIFEST.JSON",
    ],
)
def test_a_path_the_manifest_does_not_list_is_refused(built, counsel_user, path):
    api = token_client(counsel_user, "read")
    response = api.get(f"{_urls(built)[0]}{path}")
    assert response.status_code == 404, path
    assert not LedgerEntry.objects.filter(object_type="production_job", action="exported").exists()


def test_files_are_for_those_who_may_download_the_zip(built, case):  # noqa: F811
    outsider = user_with_role("mallory", "counsel")
    api = token_client(outsider, "read")
    listing, _ = _urls(built)
    assert api.get(listing).status_code == 404
    assert api.get(f"{listing}manifest.json").status_code == 404
    assert not LedgerEntry.objects.filter(object_type="production_job", action="exported").exists()


def test_a_production_not_built_yet_has_no_files(case, counsel_user):  # noqa: F811
    job = production_job_request(actor=counsel_user, case=case, edition="counsel")
    api = token_client(counsel_user, "read")
    listing, _ = _urls(job)
    assert api.get(listing).status_code == 409
    assert api.get(f"{listing}manifest.json").status_code == 409


def _age(job, days: int) -> None:
    ProductionJob.objects.filter(pk=job.pk).update(
        finished_at=timezone.now() - dt.timedelta(days=days)
    )


def test_old_zips_are_removed_keeping_the_manifest_and_the_ledger(built, counsel_user, capsys):
    api = token_client(counsel_user, "read")
    listing, zip_url = _urls(built)
    before = api.get(listing).json()["files"]
    _body(api.get(zip_url))
    zip_file = Path(settings.MEDIA_ROOT) / built.zip_path
    entries_before = set(LedgerEntry.objects.values_list("seq", flat=True))

    _age(built, 20)
    call_command("expire_productions", "--days", "30", "--json")
    assert json.loads(capsys.readouterr().out)["removed"] == []
    _age(built, 31)
    call_command("expire_productions", "--days", "30", "--dry-run", "--json")
    assert json.loads(capsys.readouterr().out)["removed"] == [built.pk]
    assert zip_file.is_file()
    call_command("expire_productions", "--days", "30", "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["removed"] == [built.pk] and result["bytes"] == built.zip_size

    assert not zip_file.exists()
    built.refresh_from_db()
    assert built.zip_removed_at is not None and built.status == ProductionJob.Status.DONE
    listed = {f["path"] for f in built.manifest["files"]}
    assert listed == {f["path"] for f in before} - {"manifest.json", "manifest.json.p7s"}
    assert entries_before <= set(LedgerEntry.objects.values_list("seq", flat=True))
    purged = LedgerEntry.objects.get(object_type="production_job", action="purged")
    assert purged.object_sha256 == built.zip_sha256
    assert purged.details["retention_days"] == 30
    assert purged.details["files"] == len(listed)

    after = api.get(listing).json()
    assert after["zip_removed_at"] and all(f["url"] is None for f in after["files"])
    assert api.get(zip_url).status_code == 410
    gone = api.get(f"{listing}manifest.json")
    assert gone.status_code == 410 and "past its retention" in gone.json()["error"]["message"]
    assert production_zips_expire(retention_days=30)["removed"] == []  # twice is once
    browser = Client()
    browser.force_login(counsel_user)
    ref = built.case.reference
    page = browser.get(reverse("case_production", args=[ref, built.pk])).content.decode()
    assert "past the production retention" in page and f"({len(listed)} files" in page
    assert reverse("case_production_zip", args=[ref, built.pk]) not in page
    assert browser.get(reverse("case_production_zip", args=[ref, built.pk])).status_code == 410


def test_retention_zero_and_legal_hold_keep_zips(built, case, counsel_user, settings):  # noqa: F811
    _age(built, 400)
    settings.PACTA_PRODUCTION_RETENTION_DAYS = 0
    assert production_zips_expire_task()["removed"] == []
    settings.PACTA_PRODUCTION_RETENTION_DAYS = 90
    case_hold_place(actor=counsel_user, case=case)
    assert production_zips_expire_task()["removed"] == []
    assert (Path(settings.MEDIA_ROOT) / built.zip_path).is_file()
    schedule = settings.CELERY_BEAT_SCHEDULE["production-zips-expire"]
    assert schedule["task"] == production_zips_expire_task.name
