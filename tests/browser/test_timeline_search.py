"""The case timeline and the header search in a real browser, as counsel use them.

Counsel opens the timeline from the case page, sees the notice's cure period still to
come, narrows the timeline to detection, downloads it as CSV (a formula-looking account id
arrives quoted), then searches from the header: an account finds its case, a mistyped
address is named as such. Screenshots go to var/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from casework.countermeasures.notices import notice_send
from tests.browser.conftest import in_own_thread, screenshot, sign_in
from tests.browser.test_content_security_policy import RECORD_VIOLATIONS
from tests.casework.test_timeline import FORMULA_ID, world  # noqa: F401  (fixture)
from tests.factories import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media_root", "signing"),
]


def send_notice(world) -> None:  # noqa: F811
    """A notice of breach with a cure period, signed in a thread of its own."""
    in_own_thread(
        lambda: notice_send(
            actor=world["owner"],
            case=world["case"],
            kind="breach",
            to="legal@fox.test",
            cure_days=7,
        )
    )


def test_counsel_reads_the_timeline_downloads_it_and_searches(page, world):  # noqa: F811
    send_notice(world)
    # Each page is checked against the Content-Security-Policy (no inline style or script).
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, "olivia", PASSWORD)
    page.goto("/cases/CASE-20/")
    page.get_by_role("link", name="Timeline", exact=True).click()
    page.wait_for_url("**/cases/CASE-20/timeline/")
    page.get_by_role("heading", name="Timeline — CASE-20").wait_for()
    upcoming = page.get_by_role("region", name=re.compile(r"Still to come"))
    assert "Cure period ends" in upcoming.inner_text()
    table = page.get_by_role("table")
    for words in ("Sign-up", "Assent to Terms", "First request", "Last request", "Detection",
                  "Accounts attributed", "Allegation", "Notice sent"):  # fmt: skip
        assert table.get_by_role("cell", name=words, exact=True).count() >= 1, words
    screenshot(page, "timeline-01-all")
    assert page.evaluate("window.cspViolations") == []  # reset on each page

    # Narrowed to detection by keyboard: every box but Detection unticked, then Filter.
    for label in ("Accounts", "Case (", "Reports", "Enforcement"):
        page.get_by_role("checkbox", name=re.compile(f"^{re.escape(label)}")).uncheck()
    page.get_by_role("button", name="Filter").press("Enter")
    page.wait_for_url(re.compile(r".*group=detection$"))
    rows = page.get_by_role("table").locator("tbody tr")
    assert rows.count() == 1 and "Coverage sweep" in rows.first.inner_text()
    screenshot(page, "timeline-02-detection")
    assert page.evaluate("window.cspViolations") == []  # reset on each page

    page.get_by_role("checkbox", name=re.compile("^Accounts")).check()
    page.get_by_role("button", name="Filter").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV").click()
    download = download_info.value
    assert re.fullmatch(r"CASE-20-timeline-\d{8}T\d{6}Z\.csv", download.suggested_filename)
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["when_utc", "event", "subject"]
    assert {row[1] for row in rows[1:]} == {
        "Sign-up", "Assent to Terms", "First request", "Last request", "Detection",
    }  # fmt: skip
    assert "'" + FORMULA_ID in [row[2] for row in rows]

    # The header's search box, reached by its label, submitted with Enter.
    search = page.get_by_role("search").first.get_by_role("searchbox")
    search.fill("acct_fox01")
    search.press("Enter")
    page.wait_for_url("**/search/?q=acct_fox01")
    page.get_by_role("link", name="acct_fox01").wait_for()
    assert page.get_by_role("link", name="CASE-20").count() == 1
    assert page.get_by_role("link", name="Cluster C-0042").count() == 1
    screenshot(page, "search-01-account")
    assert page.evaluate("window.cspViolations") == []  # reset on each page

    search = page.get_by_role("search").first.get_by_role("searchbox")
    search.fill("203.0.113.999")
    search.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "looks like an IP address but is not one" in alert.inner_text()
    screenshot(page, "search-02-malformed")
    assert page.evaluate("window.cspViolations") == []
