"""The whole path in a real browser, as a new user walks it.

Counsel signs in, finds the critical cluster of the demo scenario, opens a case from it,
adds an allegation against a clause, requests the regulator edition, watches it finish
and downloads it; a viewer not on the case gets 404; an external reviewer sees only the
shared case and cannot fetch the counsel edition.
"""

from __future__ import annotations

import re

import pytest

from casework.demo import DEMO_PASSWORD
from tests.browser.conftest import in_own_thread, report_worker, screenshot, sign_in
from tests.factories import user_with_role

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media_root", "signing"),
]


def test_counsel_from_cluster_to_report(page, demo_world, django_user_model):
    from casework.models import Case

    sign_in(page, "counsel", DEMO_PASSWORD)
    screenshot(page, "01-home")
    page.get_by_role("link", name="Clusters", exact=True).click()
    page.wait_for_url("**/clusters/")
    screenshot(page, "02-clusters")
    page.locator("tr", has=page.locator(".band-critical")).first.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/clusters/\d+/$"))
    screenshot(page, "03-cluster")
    page.get_by_label("Reference").fill("PACTA-2026-001")
    page.get_by_label("Respondent").fill("Blue Finch Labs (suspected)")
    page.get_by_role("button", name="Open case").click()
    page.wait_for_url("**/cases/PACTA-2026-001/")
    case = Case.objects.get(reference="PACTA-2026-001")
    assert case.case_accounts.count() >= 5
    page.get_by_text("Add an allegation against a clause in force").click()
    options = page.get_by_label("Clause").locator("option").all_inner_texts()
    competing = next(o for o in options if "Competing models" in o)
    page.get_by_label("Clause").select_option(label=competing)
    page.get_by_label("Theory").fill(
        "The accounts harvested step-by-step reasoning and token probabilities at scale to "
        "train a competing model."
    )
    page.get_by_role("button", name="Add allegation").click()
    page.wait_for_url("**/cases/PACTA-2026-001/")
    assert case.allegations.count() == 1
    screenshot(page, "04-case")

    # A viewer who is not on the case: the case does not exist for them.
    viewer = page.context.browser.new_context(base_url=page.url.split("/cases/")[0])
    other = viewer.new_page()
    sign_in(other, "viewer", DEMO_PASSWORD)
    response = other.goto("/cases/PACTA-2026-001/")
    assert response.status == 404
    viewer.close()

    # Counsel requests the regulator edition and watches it finish (a real Celery worker).
    with report_worker():
        reports = page.get_by_role("region", name="Reports")
        reports.get_by_label("Edition").select_option("regulator")
        reports.get_by_role("button", name="Request report").click()
        page.wait_for_url(re.compile(r".*/reports/\d+/$"))
        screenshot(page, "05-report-progress")
        page.get_by_role("link", name=re.compile("Download the report")).wait_for(timeout=180_000)
    screenshot(page, "06-report-done")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download the report")).click()
    pdf = download_info.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")

    # An external reviewer on the case sees it, and the regulator edition, but never the
    # counsel edition.
    from casework.models import ReportJob
    from casework.reports import report_build, report_job_request
    from casework.services import case_member_add

    counsel_user = django_user_model.objects.get(username="counsel")
    counsel_job = report_job_request(actor=counsel_user, case=case, edition="counsel")
    # In a thread of its own: signing runs an event loop, and Playwright's runs in this one
    # (here the build used to fail at signing, and the checks below passed on no PDF).
    in_own_thread(lambda: report_build(job=counsel_job))
    counsel_job.refresh_from_db()
    assert counsel_job.status == ReportJob.Status.DONE and counsel_job.pdf_id, (
        counsel_job.failure_reason
    )
    reviewer = user_with_role("rita", "external reviewer")
    case_member_add(actor=counsel_user, case=case, user=reviewer, role="external_reviewer")
    Case.objects.create(
        reference="OTHER-1", title="Not shared", respondent="x", opened_by=counsel_user
    )
    outside = page.context.browser.new_context(base_url=page.url.split("/cases/")[0])
    rpage = outside.new_page()
    sign_in(rpage, "rita", "a-long-password-1")
    rpage.goto("/cases/")
    assert "PACTA-2026-001" in rpage.content()
    assert "OTHER-1" not in rpage.content()
    regulator = ReportJob.objects.get(case=case, edition="regulator")
    assert rpage.goto(f"/cases/PACTA-2026-001/reports/{regulator.pk}/").status == 200
    assert rpage.goto(f"/cases/PACTA-2026-001/reports/{counsel_job.pk}/").status == 404
    assert rpage.goto(f"/cases/PACTA-2026-001/reports/{counsel_job.pk}/pdf/").status == 404
    assert rpage.goto(f"/cases/PACTA-2026-001/files/{counsel_job.pdf_id}/download/").status == 404
    screenshot(rpage, "07-reviewer-case-list")
    outside.close()
