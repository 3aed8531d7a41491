"""The pages counsel open every day make as many queries for a cluster or case of sixty
accounts as for one of three (issue #20: page speed at 5,000 accounts). A query a row
(an N+1) would pass every functional test and still make a large case's page crawl; the
time itself is measured by `make bench --only pages`, never here."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casework.models import CaseAccount
from casework.services import case_accounts_attribute, case_open_from_cluster, note_add
from evidence.ingest.service import ingest_file
from evidence.models import Account, Finding, Link
from tests.factories import finished_cluster, ndjson_file, usage_event, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def _world(tmp_path, *, name: str, size: int, counsel):
    """A critical cluster of `size` accounts (a chain of hard links, a signal fired on
    each, two requests each from its own address) and a case opened from it, attributed a
    second time on half its accounts, with notes."""
    ids = [f"{name}_{i:03d}" for i in range(size)]
    rows = [{"account_id": a, "plan": "tier-2", "signup_ip": "198.51.100.9"} for a in ids]
    ingest_file(
        actor="system:test", kind="accounts", path=ndjson_file(tmp_path / f"{name}-a.ndjson", rows)
    )
    usage = [
        usage_event(n, request_id=f"{name}_req_{n}", account_id=ids[n % size])
        for n in range(2 * size)
    ]
    ingest_file(
        actor="system:test", kind="usage", path=ndjson_file(tmp_path / f"{name}-u.ndjson", usage)
    )
    cluster = finished_cluster(f"C-{name}", ids)
    now = timezone.now()
    accounts = list(Account.objects.filter(account_id__in=ids).order_by("pk"))
    Link.objects.bulk_create(
        Link(
            run=cluster.run,
            account_a=a,
            account_b=b,
            kind="shared_payment",
            detector_version="1",
            strength="hard",
            explanation=f"{a.account_id} and {b.account_id} paid with one card",
            created_at=now,
        )
        for a, b in itertools.pairwise(accounts)
    )
    Finding.objects.bulk_create(
        Finding(
            run=cluster.run,
            detector="volume_outlier",
            detector_version="1",
            account=a,
            window_start=now - dt.timedelta(days=30),
            window_end=now,
            value=9.0,
            baseline={"median": 1.0},
            threshold=3.0,
            fired=True,
            explanation="Nine times the cohort's median volume",
            created_at=now,
        )
        for a in accounts
    )
    case = case_open_from_cluster(
        actor=counsel,
        cluster=cluster,
        reference=f"PACTA-{name.upper()}",
        title="Distillation",
        respondent="Blue Finch",
    )
    case_accounts_attribute(
        actor=counsel,
        case=case,
        accounts=accounts[::2],
        basis=CaseAccount.Basis.INVESTIGATION,
        detail="Card issuer's records",
    )
    for n in range(3):
        note_add(actor=counsel, case=case, text=f"Note {n}")
    return case, cluster


def _pages(case, cluster) -> dict[str, str]:
    return {
        "case page": f"/cases/{case.reference}/",
        "cluster page": f"/clusters/{cluster.pk}/",
        "cluster page, second page of links": f"/clusters/{cluster.pk}/?links=2",
        "case timeline": f"/cases/{case.reference}/timeline/",
        "clusters list": "/clusters/",
        "search by account id": f"/search/?q={cluster.members.order_by('pk')[0].account_id}",
        "search by address": "/search/?q=203.0.113.7",
    }


def _queries(client, url: str) -> int:
    client.get(url)  # the first view fills per-figure caches; count the page as seen again
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


def test_page_queries_do_not_grow_with_the_accounts(
    client, tmp_path, django_assert_max_num_queries
):
    counsel = user_with_role("casey", "counsel")
    client.force_login(counsel)
    small = _pages(*_world(tmp_path, name="few", size=3, counsel=counsel))
    # The second page of links is the last page of a small cluster's (one page of two links).
    few = {page: _queries(client, url) for page, url in small.items()}
    large = _pages(*_world(tmp_path, name="many", size=120, counsel=counsel))
    for page, url in large.items():
        client.get(url)
        with django_assert_max_num_queries(few[page], info=f"{page}: {url}"):
            response = client.get(url)
        assert response.status_code == 200, (page, response.status_code)
    # Guard against a vacuous comparison: the large cluster's page really lists many.
    body = client.get(large["cluster page"]).content.decode()
    assert "119 links of" in body or "119 links" in body
