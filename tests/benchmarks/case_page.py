"""Case page benchmark (issue: web UI): the page of a ~5,000-account case, server-side.

Renders the case page through Django's test client in process (no network, no browser)
many times and prints the 95th percentile beside an empty page's (the sign-in form)
measured in the same run, and the first view after the cache is cleared. The number of
queries is asserted in tests/casework/test_case_pages.py, not here.
"""

from __future__ import annotations

import statistics
import time

from tests.benchmarks.harness import Table

RENDERS = 40


def _timed(client, url: str) -> list[float]:
    client.get(url)  # warm caches and connections once
    seconds = []
    for _ in range(RENDERS):
        start = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return seconds


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def bench_case_page(table: Table, *, reference: str) -> None:

    from django.test import Client

    from casework.models import Case
    from evidence.detectors.selectors import detection_run_latest
    from evidence.models import Finding

    case = Case.objects.get(reference=reference)
    user = case.opened_by
    client = Client()
    client.force_login(user)
    url = f"/cases/{reference}/"
    run = detection_run_latest()
    findings = Finding.objects.filter(run=run, account__case_links__case=case).count() if run else 0
    from django.core.cache import cache

    cache.clear()
    start = time.perf_counter()
    client.get(url)
    cold = time.perf_counter() - start
    page = _timed(client, url)
    empty = _timed(Client(), "/login/")
    table.add(
        f"case page, {case.case_accounts.count():,} accounts, {findings:,} findings (p95 ms)",
        f"{_p95(page) * 1000:.0f} ms (first view {cold * 1000:.0f} ms)",
        f"empty page {_p95(empty) * 1000:.0f} ms",
        f"{_p95(page) / _p95(empty):.1f}x",
        "< 300 ms",
    )
