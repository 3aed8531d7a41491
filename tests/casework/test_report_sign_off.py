"""Final reports (issue #18): built only from an approved draft, and only with a declarant,
a production signing identity and a record verified within the configured age; a draft
says DRAFT on every page and in its metadata."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest
from django.core.management import CommandError, call_command

from casework.models import CaseRole, ReportJob
from casework.reports import report_build, report_job_request
from casework.reports.final import DEMONSTRATION_MARK, DRAFT_MARK
from casework.reports.review import ReviewError, report_final_request, report_review
from casework.services import case_declarant_set, case_member_add
from evidence.models import LedgerEntry, VerificationRun

# The report tests' case fixture (and the helper that forges a row past the triggers).
from tests.casework.test_reports import _forge_usage_row, case  # noqa: F401
from tests.factories import user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

DECLARANT = {
    "PACTA_REPORT_DECLARANT_NAME": "Dana Declarant",
    "PACTA_REPORT_DECLARANT_TITLE": "Custodian of Records",
    "PACTA_REPORT_DECLARANT_ORGANISATION": "Aster Systems, Inc.",
    "PACTA_REPORT_DECLARANT_PLACE": "San Francisco, California",
}


@pytest.fixture
def expert(case, counsel_user):  # noqa: F811
    user = user_with_role("erin", "investigator")
    user.first_name, user.last_name = "Erin", "Expert"
    user.save()
    case_member_add(actor=counsel_user, case=case, user=user, role=CaseRole.EXPERT)
    return user


@pytest.fixture
def declarant(settings):
    for name, value in DECLARANT.items():
        setattr(settings, name, value)


@pytest.fixture
def draft(case, counsel_user, expert):  # noqa: F811
    job = report_build(job=report_job_request(actor=counsel_user, case=case, edition="counsel"))
    assert job.status == ReportJob.Status.DONE, job.failure_reason
    return job


def _approve(draft, counsel_user, expert) -> None:
    report_review(actor=counsel_user, job=draft, decision="approve")
    report_review(actor=expert, job=draft, decision="approve")


def _pages(job: ReportJob, tmp_path: Path) -> list[str]:
    path = _pdf(job, tmp_path)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [re.sub(r"[ \t]+", " ", page) for page in text.split("\f") if page.strip()]


def _pdf(job: ReportJob, tmp_path: Path) -> Path:
    path = tmp_path / f"job-{job.pk}.pdf"
    if not path.exists():
        with job.pdf.file.open("rb") as src:
            path.write_bytes(src.read())
    return path


def test_a_draft_carries_its_mark_on_every_page_and_in_its_metadata(draft, tmp_path):
    pages = _pages(draft, tmp_path)
    assert len(pages) > 5
    unmarked = [number for number, page in enumerate(pages, 1) if DRAFT_MARK not in page]
    assert unmarked == []
    with pikepdf.open(_pdf(draft, tmp_path)) as pdf:
        with pdf.open_metadata() as xmp:
            assert xmp["dc:title"].startswith(DRAFT_MARK)
        manifest = json.loads(pdf.attachments["manifest.json"].get_file().read_bytes())
    assert manifest["report"]["status"] == "draft"
    assert "Not yet approved" in "".join(pages)


def test_a_final_report_needs_both_approvals_of_its_draft(draft, counsel_user, expert):
    with pytest.raises(ReviewError) as error:
        report_final_request(actor=counsel_user, draft=draft)
    assert "counsel on the case" in str(error.value) and "expert" in str(error.value)
    report_review(actor=counsel_user, job=draft, decision="approve")
    report_review(actor=expert, job=draft, decision="reject", comment="Null model unstated.")
    with pytest.raises(ReviewError, match=r"Erin Expert rejected it \(Null model unstated\.\)"):
        report_final_request(actor=counsel_user, draft=draft)
    report_review(actor=expert, job=draft, decision="approve")  # a change of mind: a new row
    assert report_final_request(actor=counsel_user, draft=draft).final


def test_build_report_final_refuses_a_draft_not_yet_approved(draft, counsel_user):
    with pytest.raises(CommandError) as error:
        call_command("build_report", draft.case.reference, "--final", "--json")
    assert error.value.returncode == 1
    assert "is not approved: it needs an approval by counsel" in str(error.value)
    assert not ReportJob.objects.filter(final=True).exists()


def test_a_final_report_refuses_to_build_without_a_declarant(
    draft, counsel_user, expert, declarant, settings
):
    _approve(draft, counsel_user, expert)
    settings.PACTA_REPORT_DECLARANT_NAME = ""
    settings.PACTA_REPORT_DECLARANT_PLACE = ""
    job = report_build(job=report_final_request(actor=counsel_user, draft=draft))
    assert job.status == ReportJob.Status.FAILED and job.pdf is None
    assert (
        "the declarant's name (PACTA_REPORT_DECLARANT_NAME), place "
        "(PACTA_REPORT_DECLARANT_PLACE), or a declarant named on the case"
    ) in job.failure_reason


def test_a_final_report_refuses_the_demo_identity(
    draft, counsel_user, expert, declarant, settings, tmp_path
):
    _approve(draft, counsel_user, expert)
    out = io.StringIO()
    call_command("demo_certificate", "--dir", str(tmp_path / "demo"), "--json", stdout=out)
    demo = json.loads(out.getvalue())
    settings.PACTA_SIGNING_CERT, settings.PACTA_SIGNING_KEY = demo["cert"], demo["key"]
    settings.PACTA_DEMO = False
    job = report_build(job=report_final_request(actor=counsel_user, draft=draft))
    assert job.status == ReportJob.Status.FAILED
    assert "is the DEMO certificate" in job.failure_reason

    # Demo mode allows it, and every page then says the report is a demonstration.
    settings.PACTA_DEMO = True
    job = report_build(job=report_final_request(actor=counsel_user, draft=draft))
    assert job.status == ReportJob.Status.DONE, job.failure_reason
    pages = _pages(job, tmp_path)
    assert all(DEMONSTRATION_MARK in page for page in pages)
    assert not any(DRAFT_MARK in page for page in pages)


def test_a_final_report_refuses_a_record_that_fails_the_verification_it_runs(
    draft, counsel_user, expert, declarant, settings
):
    _approve(draft, counsel_user, expert)
    _forge_usage_row("req_acct_fox01_00007")
    settings.PACTA_VERIFICATION_MAX_AGE_HOURS = 0  # the fixture's passing run is too old
    runs = VerificationRun.objects.count()
    job = report_build(job=report_final_request(actor=counsel_user, draft=draft))
    assert VerificationRun.objects.count() == runs + 1
    assert job.status == ReportJob.Status.FAILED and job.pdf is None
    assert "run for this final report" in job.failure_reason


def test_an_approved_draft_builds_the_final_report_that_names_who_stands_behind_it(
    draft, counsel_user, expert, settings, tmp_path
):
    _approve(draft, counsel_user, expert)
    # The case names its declarant (the settings name none).
    case_declarant_set(
        actor=counsel_user,
        case=draft.case,
        **{name.rsplit("_", 1)[1].lower(): value for name, value in DECLARANT.items()},
    )
    settings.PACTA_VERIFICATION_MAX_AGE_HOURS = 0  # the build verifies the record again
    runs = VerificationRun.objects.count()
    out = io.StringIO()
    call_command("build_report", draft.case.reference, "--final", "--json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["final"] is True and document["status"] == "done"
    job = ReportJob.objects.get(pk=document["job"])
    assert job.draft == draft and job.snapshot_sha256 == draft.snapshot_sha256
    assert VerificationRun.objects.count() == runs + 1
    text = "".join(pages := _pages(job, tmp_path))
    assert not any(DRAFT_MARK in page for page in pages)
    assert "I, Dana Declarant, Custodian of Records of Aster Systems, Inc." in text
    assert "at San Francisco, California." in text
    assert "Erin Expert, approved" in text
    with pikepdf.open(_pdf(job, tmp_path)) as pdf:
        files = {n: s.get_file().read_bytes() for n, s in pdf.attachments.items()}
    verification = json.loads(files["verification.json"])
    assert (
        verification["ok"] is True
        and verification["run"] == VerificationRun.objects.latest("pk").pk
    )
    extract = [json.loads(line) for line in files["ledger-extract.ndjson"].splitlines()]
    kinds = {(e["object_type"], e["object_id"]) for e in extract}
    assert ("case", draft.case.reference) in kinds and ("report_job", str(draft.pk)) in kinds
    assert ("case_declarant", draft.case.reference) in kinds
    assert sum(1 for e in extract if e["object_type"] == "report_review") == 2
    manifest = json.loads(files["manifest.json"])
    assert manifest["report"]["status"] == "final"
    assert {"verification.json", "ledger-extract.ndjson"} <= {
        e["file_name"] for e in manifest["exhibits"]
    }
    built = LedgerEntry.objects.get(object_type="report", object_id=str(job.pk))
    assert built.details["final"] is True
    assert {a["role"] for a in built.details["sign_off"]["approvals"]} == {"counsel", "expert"}
