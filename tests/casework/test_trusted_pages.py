"""The pages a legal team reads, as issue #20 found them: no false alarm, names and counts
a person reads, paging on long tables, and errors where the person is looking."""

from __future__ import annotations

import pytest

from casework.models import Case
from evidence.custody.verification import evidence_verify
from evidence.ingest.service import ingest_file
from tests.factories import ndjson_file, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


@pytest.fixture
def record(tmp_path):
    """Six accounts of two organisations, as the provider's account files list them."""
    rows = [
        {"account_id": f"fox_{i}", "plan": "tier-2", "org_name": f"Org {i % 2}"} for i in range(6)
    ]
    ingest_file(actor="system:test", kind="accounts", path=ndjson_file(tmp_path / "a.ndjson", rows))


@pytest.fixture
def counsel(client):
    """Counsel signed in on the test client."""
    client.force_login(user := user_with_role("casey", "counsel"))
    return user


def _open(client, reference: str = "PACTA-1") -> Case:
    response = client.post(
        "/cases/", {"reference": reference, "title": "Distillation", "respondent": "Blue Finch"}
    )
    assert response.status_code == 302
    return Case.objects.get(reference=reference)


@pytest.mark.usefixtures("signing")
def test_a_verified_report_page_raises_no_alarm(record, client, counsel):
    """The report page showed "Verification failed ( UTC): failure" on a verified record:
    its own verification status hid the record's latest verification the banner reads."""
    from casework.reports import report_build, report_job_request

    case = _open(client)
    client.post("/cases/PACTA-1/accounts/", {"accounts": "fox_0 fox_1", "basis": "payment"})
    job = report_build(job=report_job_request(actor=counsel, case=case, edition="counsel"))
    assert job.pdf is not None, job.failure_reason
    assert evidence_verify(actor="system:test").ok
    page = client.get(f"/cases/PACTA-1/reports/{job.pk}/").content.decode()
    assert "verification: verified" in page
    assert 'role="alert"' not in page
    assert "failed" not in page.lower()
    home = client.get("/").content.decode()
    assert "all records match their hashes" in home
