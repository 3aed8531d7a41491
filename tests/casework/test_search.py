"""Search as an investigator uses it: an account id, an address (or range), an API key, a
card fingerprint or a request id finds every account, cluster and case it touches; only
what the user may see (a case they are not on is neither shown nor hinted at, and a
regulator's reviewer finds only the cases shared with them); input that matches nothing
or cannot be an identifier gets a clear message."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from casework.models import Case
from casework.search import SearchError, record_search
from evidence.ingest.service import ingest_file
from evidence.models import Account, Cluster, ClusterMember, DetectionRun, Link
from tests.factories import case_with_members, ndjson_file, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


@pytest.fixture
def world(tmp_path):
    """Fox's two accounts (one card, replaced later on one of them), a bystander; case
    CASE-A on fox01 with Alice and a regulator's reviewer Rita, case CASE-B on fox02 that
    neither is on; a detection run that clusters the fox accounts and saw fox02 use fox01's
    key."""
    accounts = [
        {"account_id": "acct_fox01", "signup_ip": "198.51.100.4", "payment_fingerprint": "pf_old"},
        {"account_id": "acct_fox02", "signup_ip": "198.51.100.9", "payment_fingerprint": "pf_fox"},
        {"account_id": "acct_by", "signup_ip": "192.0.2.1", "payment_fingerprint": "pf_by"},
    ]
    ingest_file(actor="system:test", kind="accounts",
                path=ndjson_file(tmp_path / "a.ndjson", accounts))  # fmt: skip
    accounts[0]["payment_fingerprint"] = "pf_fox"  # the card replaced: a second profile
    ingest_file(actor="system:test", kind="accounts",
                path=ndjson_file(tmp_path / "b.ndjson", accounts[:1]))  # fmt: skip
    usage = [
        {
            "request_id": f"req_{n}",
            "ts": (T0 + dt.timedelta(hours=n)).isoformat(),
            "account_id": account,
            "api_key_id": key,
            "model": "frontier-2",
            "input_tokens": 10,
            "output_tokens": 20,
            "source_ip": ip,
        }
        for n, (account, key, ip) in enumerate(
            [
                ("acct_fox01", "key_fox", "203.0.113.7"),
                ("acct_fox02", "key_fox2", "203.0.113.8"),
                ("acct_by", "key_by", "192.0.2.50"),
            ]
        )
    ]
    ingest_file(actor="system:test", kind="usage", path=ndjson_file(tmp_path / "u.ndjson", usage))
    alice = user_with_role("alice", "counsel")
    rita = user_with_role("rita", "external reviewer")
    boss = user_with_role("bob", "counsel")
    fox01, fox02 = (Account.objects.get(account_id=a) for a in ("acct_fox01", "acct_fox02"))
    case_with_members(owner=alice, reference="CASE-A", accounts=[fox01],
                      members=[(rita, "external_reviewer")])  # fmt: skip
    case_with_members(owner=boss, reference="CASE-B", accounts=[fox02])
    run = DetectionRun.objects.create(
        started_at=T0, finished_at=T0, status=DetectionRun.Status.FINISHED, actor="system:test"
    )
    cluster = Cluster.objects.create(
        run=run, identity="C-0007", score=90, band="critical", size=2, explanation="-",
        created_at=T0,
    )  # fmt: skip
    for account in (fox01, fox02):
        ClusterMember.objects.create(cluster=cluster, account=account)
    Link.objects.create(
        run=run, account_a=fox01, account_b=fox02, kind="key_sharing", detector_version="1",
        strength="hard", evidence={"api_key_id": "key_fox"}, explanation="-", created_at=T0,
    )  # fmt: skip
    return {"alice": alice, "rita": rita, "cluster": cluster}


def found(user, query: str) -> tuple[dict[str, list[str]], list[str], list[str]]:
    result = record_search(user=user, query=query)
    return (
        {account.account_id: how for account, how in result.accounts},
        [cluster.identity for cluster in result.clusters],
        [case.reference for case in result.cases],
    )


def page(user, query: str):
    client = Client()
    client.force_login(user)
    return client.get("/search/", {"q": query})


def test_an_account_id_finds_the_account_its_cluster_and_only_the_users_cases(world):
    accounts, clusters, cases = found(world["alice"], "acct_fox01")
    assert accounts == {"acct_fox01": ["account id"]}
    assert clusters == ["C-0007"] and cases == ["CASE-A"]
    # The other fox account is in a case Alice is not on: no trace of it.
    accounts, clusters, cases = found(world["alice"], "acct_fox02")
    assert list(accounts) == ["acct_fox02"] and clusters == ["C-0007"] and cases == []
    body = page(world["alice"], "acct_fox02").content.decode()
    assert "CASE-B" not in body and "Cases (0)" in body


def test_an_address_finds_accounts_by_sign_up_and_by_requests_and_a_range_finds_them_all(world):
    assert found(world["alice"], "203.0.113.7")[0] == {"acct_fox01": ["address of its requests"]}
    assert found(world["alice"], "198.51.100.9")[0] == {"acct_fox02": ["sign-up address"]}
    accounts, _, cases = found(world["alice"], "198.51.100.0/24")
    assert set(accounts) == {"acct_fox01", "acct_fox02"} and cases == ["CASE-A"]
    body = page(world["alice"], "198.51.100.0/24").content.decode()
    assert "the address range 198.51.100.0/24" in body


def test_a_key_finds_the_account_it_was_issued_to_and_the_one_that_shared_it(world):
    accounts, clusters, _ = found(world["alice"], "key_fox")
    assert accounts == {
        "acct_fox01": ["API key (issued to it)"],
        "acct_fox02": ["API key (used by it: key-sharing link)"],
    }
    assert clusters == ["C-0007"]


def test_a_card_fingerprint_finds_current_and_earlier_profiles(world):
    accounts = found(world["alice"], "pf_fox")[0]
    assert accounts == {
        "acct_fox01": ["card fingerprint (current profile)"],
        "acct_fox02": ["card fingerprint (current profile)"],
    }
    assert found(world["alice"], "pf_old")[0] == {
        "acct_fox01": ["card fingerprint (earlier profile)"]
    }


def test_a_request_id_finds_the_account_that_sent_it(world):
    assert found(world["alice"], "req_2")[0] == {"acct_by": ["request id"]}
    assert found(world["alice"], "req_2")[1:] == ([], [])


def test_the_page_lists_accounts_with_links_and_how_they_were_found(world):
    response = page(world["alice"], "key_fox")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'href="/accounts/acct_fox01/"' in body and "key-sharing link" in body
    assert f'href="/clusters/{world["cluster"].pk}/"' in body and 'href="/cases/CASE-A/"' in body


def test_nothing_found_says_so(world):
    response = page(world["alice"], "acct_nobody")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing found." in body and "acct_nobody" in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Type an account id, an IP address"),
        ("   ", "Type an account id, an IP address"),
        ("203.0.113.999", "looks like an IP address but is not one"),
        ("x" * 201, "identifiers in the record are at most 200"),
        ("acct\x00fox", "control characters"),
    ],
)
def test_malformed_input_gets_a_clear_message(world, query, message):
    with pytest.raises(SearchError, match=message):
        record_search(user=world["alice"], query=query)
    response = page(world["alice"], query)
    assert response.status_code == 400
    assert message.replace("'", "&#x27;") in response.content.decode()


def test_what_is_typed_is_shown_escaped(world):
    body = page(world["alice"], "<script>alert(1)</script>").content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_regulators_reviewer_finds_only_the_shared_case_and_nothing_of_the_record(world):
    accounts, clusters, cases = found(world["rita"], "acct_fox01")
    assert (accounts, clusters, cases) == ({}, [], ["CASE-A"])
    assert found(world["rita"], "acct_fox02") == ({}, [], [])  # on a case not shared
    assert found(world["rita"], "pf_fox") == ({}, [], [])  # cards are the record's
    assert found(world["rita"], "203.0.113.7") == ({}, [], [])
    body = page(world["rita"], "acct_fox01").content.decode()
    assert 'id="search-accounts-heading"' not in body and "search-clusters-heading" not in body
    assert 'href="/cases/CASE-A/"' in body


def test_a_case_reference_finds_the_case_for_its_members_only(world):
    assert found(world["alice"], "case-a")[2] == ["CASE-A"]
    assert found(world["alice"], "CASE-B")[2] == []


def test_every_page_has_the_search_box_and_search_needs_sign_in(world):
    client = Client()
    assert client.get("/search/", {"q": "acct_fox01"}).status_code == 302
    client.force_login(world["alice"])
    home = client.get("/").content.decode()
    assert 'role="search"' in home and 'action="/search/"' in home and 'name="q"' in home
    assert client.get("/search/").status_code == 200  # the empty form, no error yet


def test_what_an_enforcement_action_blocks_finds_its_case(world, tmp_path):
    from casework.countermeasures.models import EnforcementAction
    from evidence.models import Clause
    from tests.casework.test_enforcement_actions import TERMS
    from tests.factories import terms_version

    terms_version(tmp_path, TERMS, label="2025-06-01")
    EnforcementAction.objects.create(
        case=Case.objects.get(reference="CASE-A"), kind="block_range",
        clause=Clause.objects.get(path="3.3(b)"), reason="-", effective_at=T0,
        proposed_by_label="alice", proposed_at=T0, address_ranges=["100.64.0.0/16"],
        key_ids=["key_zzz"], payment_fingerprints=["pf_zzz"],
    )  # fmt: skip
    for query in ("100.64.3.4", "100.64.0.0/10", "key_zzz", "pf_zzz"):
        assert found(world["alice"], query) == ({}, [], ["CASE-A"]), query
    assert found(world["alice"], "100.65.0.1") == ({}, [], [])
    # A regulator's reviewer on the case is not told what the team blocks.
    assert found(world["rita"], "key_zzz") == ({}, [], [])
