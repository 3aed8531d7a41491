"""Issue #20 in a real browser: what a person sees on a case page when attributing on a
second basis or mistyping an account, the case's reports address, and bands in words."""

from __future__ import annotations

import pytest

from evidence.ingest.service import ingest_file
from tests.browser.conftest import screenshot, sign_in
from tests.factories import PASSWORD, ndjson_file, user_with_role

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media_root"),
]


def test_attributing_again_and_a_mistyped_account_are_seen(page, tmp_path):
    rows = [{"account_id": f"fox_{i}", "org_name": "Blue Finch"} for i in range(4)]
    ingest_file(actor="system:test", kind="accounts", path=ndjson_file(tmp_path / "a.ndjson", rows))
    user_with_role("casey", "counsel")
    sign_in(page, "casey", PASSWORD)
    page.goto("/cases/")
    page.get_by_label("Reference").fill("PACTA-9")
    page.get_by_label("Title").fill("Distillation")
    page.get_by_label("Respondent").fill("Blue Finch Labs")
    page.get_by_role("button", name="Open case").click()
    page.wait_for_url("**/cases/PACTA-9/")

    def attribute(accounts: str, basis: str, detail: str = "") -> None:
        page.get_by_text("Attribute accounts", exact=True).click()
        form = page.locator("#attribute form")
        form.get_by_label("Accounts", exact=True).fill(accounts)
        form.get_by_label("Basis", exact=True).select_option(basis)
        if detail:
            form.get_by_label("Basis in detail").fill(detail)
        form.get_by_role("button", name="Attribute").click()
        page.wait_for_load_state()

    attribute("fox_0 fox_1 fox_2", "payment", "card pf_1")
    assert page.get_by_text("3 accounts attributed (Shared payment method).").is_visible()
    attribute("fox_0 fox_1", "admission", "their letter of 3 May")
    said = page.get_by_text("2 accounts already attributed: second basis recorded")
    assert said.is_visible()
    # Each basis once, in full; the rows refer to it.
    assert page.get_by_text("their letter of 3 May").count() == 1
    screenshot(page, "issue20-second-basis")

    attribute("fox_3 fox_nope", "payment")
    error = page.get_by_text("Unknown account: fox_nope")
    assert error.is_visible()  # beside the field, in a section that is open
    assert page.evaluate("document.activeElement.name") == "accounts"
    screenshot(page, "issue20-unknown-account")

    assert page.goto("/cases/PACTA-9/reports/").status == 200
    assert page.get_by_role("button", name="Request report").is_visible()
