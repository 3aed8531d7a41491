"""Browser tests: Debian's chromium driven by Playwright, against Django's live server.

Never `playwright install`: the browser is the system's /usr/bin/chromium (installed by the
Makefile's system-deps). Screenshots of the main pages go to var/screenshots/ so a person
can look at what the tests saw.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def _browser():
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are still synchronous and safe, so Django's async guard is relaxed for these tests
    # (and restored afterwards, so no other test runs with it).
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


@pytest.fixture
def page(_browser, live_server):
    context = _browser.new_context(
        viewport={"width": 1366, "height": 900}, base_url=live_server.url
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


# What a person relying on a screen reader or a keyboard cannot get past: axe-core's two
# highest impacts. Lesser findings (moderate, minor) are not failures here.
BLOCKING_IMPACTS = ("serious", "critical")


def accessibility_check(page, name: str) -> None:
    """Run axe-core on the page as it stands and fail naming every serious or critical
    violation (rule, impact, the elements it found), so the page a screenshot shows is also
    one a person using assistive technology can use."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    blocking = [
        violation
        for violation in results.response["violations"]
        if violation.get("impact") in BLOCKING_IMPACTS
    ]
    assert not blocking, f"{name}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in blocking
    )


def screenshot(page, name: str) -> Path:
    """Save the page for a person to look at, after checking it passes axe-core."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    accessibility_check(page, name)
    return path


def sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
