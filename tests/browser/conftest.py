"""Browser tests: Debian's chromium driven by Playwright, against Django's live server.

Never `playwright install`: the browser is the system's /usr/bin/chromium (installed by the
Makefile's system-deps). Screenshots of the main pages go to var/screenshots/ so a person
can look at what the tests saw.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

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


@pytest.fixture
def demo_world(tmp_path):
    """A small generated world (300 accounts, 20,000 requests), its demo users, and a
    detection run over it: the record a new user walks through."""
    from casework.demo import demo_record_load, demo_users_seed
    from casework.demo.world import scenario_generate

    out = tmp_path / "scenario"
    scenario_generate(out_dir=out, accounts=300, events=20_000, seed=5)
    demo_users_seed()
    demo_record_load(scenario_dir=out)
    call_command("import_models", str(out / "models.json"), verbosity=0)
    call_command("detect", verbosity=0)
    return out


@contextmanager
def report_worker():
    """A real Celery worker in this process (on an in-memory broker) for the length of the
    block, so a report requested from a page is built as in production."""
    from celery.contrib.testing.worker import start_worker

    from casework.config.celery import app as celery_app

    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = "memory://"
    try:
        with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            yield
    finally:
        celery_app.conf.broker_url = saved


# What a page must not show after a step that went well: the record-wide verification
# alarm, any other alert, a "Not done" message or a form error.
ALARMS = "[role=alert], .alert, .message-error, .errorlist"


def no_alarm(page, name: str) -> None:
    """Fail naming the page if it shows an alarm or error banner of any kind: a false
    "Verification failed" tells a legal team not to rely on a record that is intact."""
    shown = [text for text in page.locator(ALARMS).all_inner_texts() if text.strip()]
    assert not shown, f"{name}: {shown}"
    assert "Verification failed" not in page.content(), name


def focus_is_visible(page) -> dict:
    """The focused element's name and the outline it is drawn with, for a keyboard user
    must see where they are (WCAG 2.4.7)."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                name: el.name || el.tagName.toLowerCase(),
                focusVisible: el.matches(':focus-visible'),
                outlineStyle: style.outlineStyle,
                outlineWidth: parseFloat(style.outlineWidth),
            };
        }"""
    )


def in_own_thread(work):
    """Run `work` in a thread of its own and return its result: the signature checks run
    an event loop, and Playwright's is already running in this one."""

    def run():
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
