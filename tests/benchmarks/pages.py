"""Page speed at 5,000 accounts (issue #20): the pages counsel open every day, server-side.

A light-swarm world of 5,000 accounts (generated once into var/bench and reused, see
worlds.py) is loaded into the benchmark database and detection runs on it (setup, not
timed). A case is opened from the largest critical cluster with all its accounts
attributed, a second basis on some of them, a few allegations and notes. Then, through
Django's test client signed in as counsel (in process: no network, no browser), each page
is requested REQUESTS times and its p50 / p95 / max printed beside the same figures of
/healthz requested through the same client in the same run (the floor: the middleware,
the session and the test client, with no page behind them). Target: p95 < 300 ms. The
first view after the cache is cleared is printed beside each (the figures cached until the
usage log changes are computed then).

The number of queries a page makes is asserted in the test suite
(tests/casework/test_page_queries.py), never the time.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from tests.benchmarks.harness import BENCH_DB, Table, manage, run_timed, terms_import
from tests.benchmarks.worlds import world_generate, world_load

PAGES_ACCOUNTS = 5_000
PAGES_EVENTS = 300_000
PAGES_SEED = 21
PAGES_SHAPE = "light-swarm"
REQUESTS = 60
REFERENCE = "BENCH-PAGES-1"
TARGET_MS = 300


def _case_build(user):
    """A case opened from the largest critical cluster, as counsel would build it (setup)."""
    from django.db.models import Count

    from casework.models import CaseAccount
    from casework.selectors import case_clauses_allegeable
    from casework.services import (
        allegation_add,
        case_accounts_attribute,
        case_open_from_cluster,
        note_add,
    )
    from evidence.detectors.selectors import detection_run_latest
    from evidence.models import Cluster

    run = detection_run_latest()
    cluster = (
        Cluster.objects.filter(run=run, band="critical")
        .annotate(n=Count("memberships"))
        .order_by("-n", "pk")
        .first()
    )
    if cluster is None:
        raise RuntimeError("detection found no critical cluster in the pages world")
    case = case_open_from_cluster(
        actor=user,
        cluster=cluster,
        reference=REFERENCE,
        title=f"Distillation through cluster {cluster.identity}",
        respondent="Benchmark respondent",
    )
    # A second basis on half the accounts: the case page shows every basis of each.
    half = list(cluster.members.order_by("account_id"))[::2]
    case_accounts_attribute(
        actor=user,
        case=case,
        accounts=half,
        basis=CaseAccount.Basis.INVESTIGATION,
        detail="Benchmark: payment records obtained from the card issuer.",
    )
    clauses = case_clauses_allegeable(case=case).filter(kind="operative").order_by("pk")[:3]
    for clause in clauses:
        allegation_add(
            actor=user,
            case=case,
            clause=clause,
            theory=f"The accounts' harvesting breaches §{clause.path}.",
        )
    for n in range(5):
        note_add(actor=user, case=case, text=f"Benchmark note {n + 1}: reviewed the cluster.")
    return case, cluster


def _timed(client, url: str, requests: int) -> tuple[float, list[float]]:
    """The first view after the cache is cleared, then `requests` views as seen again."""
    from django.core.cache import cache

    cache.clear()
    start = time.perf_counter()
    response = client.get(url)
    first = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    seconds = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return first, seconds


def _work(client, url: str, requests: int = 10) -> tuple[int, float]:
    """Queries of one view, and the median CPU time this process spent on one (the
    machine is shared: wall time includes waiting for a core, CPU time does not)."""
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)
    cpu = []
    for _ in range(requests):
        start = time.process_time()
        client.get(url)
        cpu.append(time.process_time() - start)
    return len(queries), statistics.median(cpu) * 1000


def _figures(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max, in milliseconds."""
    p95 = statistics.quantiles(seconds, n=20)[-1]
    return statistics.median(seconds) * 1000, p95 * 1000, max(seconds) * 1000


def _shown(figures: tuple[float, float, float]) -> str:
    return "p50 {:.0f} / p95 {:.0f} / max {:.0f} ms".format(*figures)


def bench_pages(table: Table, *, env: dict[str, str], work: Path, requests: int = REQUESTS) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client

    from evidence.models import Account, UsageEvent
    from evidence.selectors import CLUSTER_PAGE_ROWS, cluster_links

    world, _ = world_generate(
        work=work,
        shape=PAGES_SHAPE,
        accounts=PAGES_ACCOUNTS,
        events=PAGES_EVENTS,
        seed=PAGES_SEED,
        env=env,
    )
    print(f"  {world.title}: loading into {BENCH_DB} and detecting (setup) ...", flush=True)
    world_load(world, database=BENCH_DB, env=env)
    terms_import(world.directory, env)
    detect = json.loads(run_timed(manage("detect", "--json"), env).stdout)
    user, _ = get_user_model().objects.get_or_create(username="bench-counsel")
    Group.objects.get_or_create(name="counsel")[0].user_set.add(user)
    case, cluster = _case_build(user)
    with connection.cursor() as cursor:
        # Statistics as autovacuum would leave them after a load this size: without them
        # the planner takes a fresh table for empty and plans every page for ten rows.
        cursor.execute("ANALYZE")
    members = cluster.memberships.count()
    print(
        f"  run {detect['run']}: {len(detect['clusters'])} clusters; case {case.reference} "
        f"from cluster {cluster.identity} ({members:,} accounts)",
        flush=True,
    )
    client = Client()
    client.force_login(user)
    floor = _figures(_timed(client, "/healthz", requests)[1])
    floor_cpu = _work(client, "/healthz")[1]
    sample = (
        UsageEvent.objects.filter(account_id__in=cluster.members.values("account_id"))
        .exclude(source_ip=None)
        .order_by("id")
        .first()
    )
    links_total = cluster_links(cluster=cluster).count()
    later = max(1, -(-links_total // CLUSTER_PAGE_ROWS) // 2)  # a page in the middle
    pages = {
        f"case page, {case.case_accounts.count():,} accounts": f"/cases/{case.reference}/",
        f"cluster page, {members:,} accounts, {links_total:,} links": f"/clusters/{cluster.pk}/",
        f"cluster page, links page {later}": f"/clusters/{cluster.pk}/?links={later}",
        "case timeline": f"/cases/{case.reference}/timeline/",
        "clusters list": "/clusters/",
        "search by account id": f"/search/?q={sample.account_id}",
        "search by address": f"/search/?q={sample.source_ip}",
    }
    accounts = Account.objects.count()
    print(f"  {accounts:,} accounts in the record; {requests} requests a page", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM evidence_usageevent")
        events = cursor.fetchone()[0]
    for name, url in pages.items():
        first, seconds = _timed(client, url, requests)
        figures = _figures(seconds)
        queries, cpu = _work(client, url)
        table.add(
            f"{name} ({accounts:,} accounts, {events:,} events)",
            f"{_shown(figures)} (first view {first * 1000:.0f} ms; "
            f"{queries} queries, app CPU p50 {cpu:.0f} ms)",
            f"/healthz {_shown(floor)}, CPU {floor_cpu:.0f} ms",
            f"{figures[1] / floor[1]:.1f}x",
            f"p95 < {TARGET_MS} ms" + ("" if figures[1] < TARGET_MS else " MISSED"),
        )
