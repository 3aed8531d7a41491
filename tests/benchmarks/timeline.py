"""Timeline and search benchmark (issue #20): a ~5,000-account case's timeline page and
CSV download, and header searches, server-side through Django's test client.

Prints the 95th percentile of each beside an empty page's (the sign-in form) measured in
the same run. The number of queries is asserted in tests/casework/test_timeline.py.
"""

from __future__ import annotations

import time

from tests.benchmarks.case_page import _p95, _timed
from tests.benchmarks.harness import Table


def bench_timeline(table: Table, *, reference: str) -> None:
    from django.test import Client

    from casework.models import Case
    from evidence.models import UsageEvent

    case = Case.objects.get(reference=reference)
    client = Client()
    client.force_login(case.opened_by)
    empty = _p95(_timed(Client(), "/login/"))
    accounts = case.case_accounts.count()
    page = _p95(_timed(client, f"/cases/{reference}/timeline/"))
    table.add(
        f"timeline page, {accounts:,} accounts (p95 ms)",
        f"{page * 1000:.0f} ms",
        f"empty page {empty * 1000:.0f} ms",
        f"{page / empty:.1f}x",
        "< 500 ms",
    )
    start = time.perf_counter()
    response = client.get(f"/cases/{reference}/timeline.csv")
    csv_seconds = time.perf_counter() - start
    assert response.status_code == 200
    rows = response.content.count(b"\n") - 1
    table.add(
        f"timeline CSV, {accounts:,} accounts",
        f"{csv_seconds * 1000:.0f} ms",
        f"{len(response.content) / 2**20:.1f} MB, {rows:,} rows",
        "",
        "< 2 s",
    )
    sample = UsageEvent.objects.filter(account__case_links__case=case).order_by("id").first()
    searches = {
        "account id": sample.account_id,
        "request id": sample.request_id,
        "address (reads the usage log)": str(sample.source_ip or "192.0.2.1"),
    }
    for what, query in searches.items():
        seconds = _p95(_timed(client, f"/search/?q={query}"))
        table.add(
            f"search by {what} (p95 ms)",
            f"{seconds * 1000:.0f} ms",
            f"empty page {empty * 1000:.0f} ms",
            f"{seconds / empty:.1f}x",
            "",
        )
