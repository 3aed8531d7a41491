"""The pages under their Content-Security-Policy, in a real browser: they load, are styled
by the app's stylesheet, and the browser reports no violation of the policy."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import sign_in
from tests.casework.test_security import PASSWORD, record_world
from tests.factories import user_with_role

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media_root"),
]

# Recorded before any page script runs (Playwright's init scripts are not subject to CSP).
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def test_case_and_cluster_pages_break_no_policy(page, tmp_path, django_user_model):
    owner = user_with_role("casey", "counsel")
    case, cluster = record_world(tmp_path, owner)
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.add_init_script(RECORD_VIOLATIONS)

    sign_in(page, "casey", PASSWORD)
    for path in ("/cases/", f"/cases/{case.reference}/", "/clusters/", f"/clusters/{cluster.pk}/"):
        response = page.goto(path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        # The stylesheet was fetched and applied (the dark site header is its rule).
        header = page.locator("header.site").evaluate("e => getComputedStyle(e).backgroundColor")
        assert header == "rgb(27, 31, 36)", path
        assert page.evaluate("window.cspViolations") == [], path
    # The cluster page was styled and rendered in full: its case section is there.
    page.get_by_role("heading", name="Cases on this cluster").wait_for()
    page.get_by_text(re.compile("Open (a|another) case from this cluster")).wait_for()

    # Swagger UI keeps working under its own, nonce-based policy.
    page.goto("/api/docs/")
    page.locator(".opblock").first.wait_for()
    assert page.evaluate("window.cspViolations") == []

    assert not [line for line in console if "Content Security Policy" in line], console
