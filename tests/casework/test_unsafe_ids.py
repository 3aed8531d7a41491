"""Account ids are the provider's, not Pacta's: whatever characters they hold, every page
that lists an account renders, its link opens that account's page and no other, and the
API reaches it."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone

from casework.services import case_accounts_attribute, case_open
from evidence.ingest.service import ingest_file
from evidence.models import Account, Cluster, ClusterMember, DetectionRun, Finding
from tests.factories import token_client as client_for
from tests.factories import user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

UNSAFE_IDS = (
    "acct/1",
    "acct 1",
    "acct%2F1",
    "acct?x=1",
    "acct#1",
    "acct_é_账户",
    "acct~41",
    "acct//1",
    "acct/../acct_plain",
    "..",
    "/acct",
    "acct/",
)
PLAIN = "acct_plain"
T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


@pytest.fixture
def record(tmp_path):
    path = tmp_path / "accounts.ndjson"
    path.write_text(
        "".join(
            json.dumps({"account_id": a, "org_name": f"Org of {a}", "plan": "tier-2"}) + "\n"
            for a in (*UNSAFE_IDS, PLAIN)
        )
    )
    result = ingest_file(actor="system:test", kind="accounts", path=path)
    assert result.accepted == len(UNSAFE_IDS) + 1
    usage = tmp_path / "usage.ndjson"
    usage.write_text(
        "".join(
            json.dumps(
                {"request_id": f"req_{n}", "ts": T0.isoformat(), "account_id": a,
                 "model": "frontier-2", "input_tokens": 10, "output_tokens": 20}
            ) + "\n"
            for n, a in enumerate(UNSAFE_IDS)
        )
    )  # fmt: skip
    ingest_file(actor="system:test", kind="usage", path=usage)


@pytest.fixture
def counsel(client, django_user_model):
    user = user_with_role("casey", "counsel")
    client.force_login(user)
    return user


def _account_links(html: str) -> dict[str, str]:
    """Each account link of a page: the id it shows -> where it leads."""
    found = re.findall(r'<a class="mono" href="(/accounts/[^"]*)">([^<]*)</a>', html)
    return {unescape(text): unescape(href) for href, text in found}


def _opens_the_account(client, href: str, account_id: str) -> None:
    page = client.get(href)
    assert page.status_code == 200, (account_id, href)
    assert page.context["account"].account_id == account_id


@pytest.mark.parametrize("account_id", [*UNSAFE_IDS, PLAIN])
def test_the_account_page_opens_for_any_id(record, client, counsel, account_id):
    href = reverse("account_detail", args=[account_id])
    assert "/" not in href.removeprefix("/accounts/").removesuffix("/")
    page = client.get(href)
    assert page.status_code == 200
    assert page.context["account"].account_id == account_id
    assert f"Org of {account_id}".encode() in unescape(page.content.decode()).encode()


def test_an_ordinary_id_keeps_its_readable_url():
    assert reverse("account_detail", args=["acct_123"]) == "/accounts/acct_123/"
    assert reverse("account_detail", args=["ops.team@corp:7"]) == "/accounts/ops.team@corp:7/"


def test_a_bad_escape_is_no_account_not_an_error(record, client, counsel):
    for path in ("/accounts/acct~4/", "/accounts/acct~zz/", "/accounts/acct~FF/", "/accounts/~00/"):
        assert client.get(path).status_code == 404, path


def test_the_case_page_lists_and_links_every_account(record, client, counsel):
    case = case_open(actor=counsel, reference="PX-IDS", title="Ids", respondent="Someone")
    case_accounts_attribute(
        actor=counsel, case=case, accounts=Account.objects.all(), basis="payment"
    )
    page = client.get("/cases/PX-IDS/")
    assert page.status_code == 200
    links = _account_links(page.content.decode())
    assert set(links) == {*UNSAFE_IDS, PLAIN}
    for account_id, href in links.items():
        _opens_the_account(client, href, account_id)


def test_the_cluster_page_lists_and_links_every_account(record, client, counsel):
    now = timezone.now()
    run = DetectionRun.objects.create(
        started_at=now, finished_at=now, status="finished", actor="system:test",
        window_start=T0, window_end=T0 + dt.timedelta(days=1), detector_versions={},
        counts={}, digest="ab" * 32,
    )  # fmt: skip
    cluster = Cluster.objects.create(
        run=run, score=90.0, band="critical", size=len(UNSAFE_IDS), explanation="One card.",
        evidence={}, created_at=now,
    )  # fmt: skip
    for account in Account.objects.filter(account_id__in=UNSAFE_IDS):
        ClusterMember.objects.create(cluster=cluster, account=account)
        Finding.objects.create(
            run=run, detector="probability_harvesting", detector_version="1", account=account,
            window_start=T0, window_end=T0 + dt.timedelta(days=1), value=0.9,
            baseline={"median": 0.01}, threshold=0.25, fired=True,
            explanation="Asked for alternatives.", sample_request_ids=[], created_at=now,
        )  # fmt: skip
    page = client.get(f"/clusters/{cluster.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    links = _account_links(html)
    assert set(links) == set(UNSAFE_IDS)
    for account_id, href in links.items():
        _opens_the_account(client, href, account_id)
    assert len(re.findall(r'href="/accounts/', html)) == 2 * len(UNSAFE_IDS)  # signals, members


@pytest.mark.parametrize("account_id", [*UNSAFE_IDS, PLAIN])
def test_the_api_reaches_any_account_by_its_percent_encoded_id(record, counsel, account_id):
    client = client_for(counsel, "read")
    response = client.get(f"/api/v1/accounts/{quote(account_id, safe='')}/")
    assert response.status_code == 200, response.content
    assert response.json()["account_id"] == account_id


def test_the_api_schema_documents_the_account_id_path_parameter(counsel):
    client = client_for(counsel, "read")
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    (parameter,) = schema["paths"]["/api/v1/accounts/{account_id}/"]["get"]["parameters"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "account_id",
        "path",
        True,
    )
    assert parameter["schema"]["type"] == "string"
    assert re.fullmatch(parameter["schema"]["pattern"], "acct/1")
    assert not re.fullmatch(parameter["schema"]["pattern"], "acct\x001")
