"""The case pages as counsel use them: open, attribute, allege, note, share, hold; and access."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from casework.models import Case, CaseMembership
from evidence.ingest.service import ingest_file
from evidence.models import Clause, LedgerEntry
from evidence.terms.services import terms_import
from tests.factories import ndjson_file, terms_version, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

TERMS = """## 3. Use

3.3 You will not: (a) use Output to develop models that compete with us; (b) share API keys.
"""


@pytest.fixture
def record(tmp_path):
    accounts = [{"account_id": f"acct_{i}", "plan": "tier-2"} for i in range(6)]
    ingest_file(
        actor="system:test", kind="accounts", path=ndjson_file(tmp_path / "a.ndjson", accounts)
    )
    assent = {
        "account_id": "acct_0",
        "terms": "sa",
        "version": "1",
        "ts": "2025-12-01T00:00:00Z",
        "method": "clickwrap",
    }
    ingest_file(
        actor="system:test", kind="assent", path=ndjson_file(tmp_path / "s.ndjson", [assent])
    )
    terms_version(
        tmp_path, TERMS, label="1", effective=dt.date(2025, 1, 1), document="sa", file_name="t.md"
    )


@pytest.fixture
def counsel(client):
    user = user_with_role("casey", "counsel")
    client.force_login(user)
    return user


def _open(client) -> Case:
    response = client.post(
        "/cases/", {"reference": "PACTA-1", "title": "Distillation", "respondent": "Blue Finch"}
    )
    assert response.status_code == 302
    return Case.objects.get(reference="PACTA-1")


def test_counsel_builds_a_case_through_the_pages(record, client, counsel):
    case = _open(client)
    assert CaseMembership.objects.get(case=case).role == "owner"
    response = client.post(
        "/cases/PACTA-1/accounts/",
        {"accounts": "acct_0, acct_1\nacct_2", "basis": "payment", "detail": "card pf_1"},
    )
    assert response.status_code == 302
    assert case.case_accounts.count() == 3
    clause = Clause.objects.get(path="3.3(a)")
    response = client.post(
        "/cases/PACTA-1/allegations/",
        {"clause": clause.pk, "theory": "Harvested reasoning outputs to train a rival model."},
    )
    assert response.status_code == 302
    client.post("/cases/PACTA-1/notes/", {"text": "Ask billing for the card history."})
    client.post("/cases/PACTA-1/hold/", {"hold": "on"})
    page = client.get("/cases/PACTA-1/").content.decode()
    assert "1 of 3" in page  # formation: one account with an assent record
    assert "acct_1" in page and "acct_2" in page  # the gaps are listed
    assert "use Output to develop models that compete with us" in page
    assert "Ask billing for the card history." in page
    assert "on since" in page
    case.refresh_from_db()
    assert case.legal_hold
    assert LedgerEntry.objects.filter(object_type="account", action="linked").count() == 3


def test_bad_input_is_named_and_nothing_is_stored(record, client, counsel):
    _open(client)
    response = client.post(
        "/cases/PACTA-1/accounts/", {"accounts": "acct_0 nope", "basis": "payment"}
    )
    assert response.status_code == 400
    assert "Unknown account: nope" in response.content.decode()
    assert Case.objects.get().case_accounts.count() == 0
    response = client.post("/cases/", {"reference": "bad ref!", "title": "t", "respondent": "r"})
    assert response.status_code == 400
    assert "letters, digits" in response.content.decode()


def test_roles_limit_what_members_may_do(record, client, counsel):
    case = _open(client)
    viewer = user_with_role("vic", "viewer")
    client.post("/cases/PACTA-1/members/", {"username": "vic", "role": "viewer"})
    client.force_login(viewer)
    page = client.get("/cases/PACTA-1/")
    assert page.status_code == 200
    assert "Add an allegation" not in page.content.decode()
    assert client.post("/cases/PACTA-1/notes/", {"text": "x"}).status_code == 403
    assert client.post("/cases/PACTA-1/hold/", {"hold": "on"}).status_code == 403
    assert case.notes.count() == 0


def test_a_reviewer_from_outside_never_sees_the_teams_notes(
    record, client, counsel, django_user_model
):
    """Notes are attorney work product: a regulator's reviewer on the case sees the case
    page without them, and the viewer (an internal role) still reads them."""
    _open(client)
    client.post("/cases/PACTA-1/notes/", {"text": "Privileged: settlement floor is 2M."})
    for username, role in (("rita", "external_reviewer"), ("vic", "viewer")):
        user_with_role(username, "viewer")
        response = client.post("/cases/PACTA-1/members/", {"username": username, "role": role})
        assert response.status_code == 302
    client.force_login(django_user_model.objects.get(username="rita"))
    page = client.get("/cases/PACTA-1/")
    assert page.status_code == 200
    assert "settlement floor" not in page.content.decode()
    assert 'id="notes-heading"' not in page.content.decode()
    client.force_login(django_user_model.objects.get(username="vic"))
    assert "settlement floor" in client.get("/cases/PACTA-1/").content.decode()


def test_a_case_you_are_not_on_does_not_exist_for_you(record, client, counsel):
    _open(client)
    outsider = user_with_role("olga", "viewer")
    client.force_login(outsider)
    for url in ("/cases/PACTA-1/", "/cases/PACTA-1/audit/"):
        assert client.get(url).status_code == 404
    assert client.post("/cases/PACTA-1/notes/", {"text": "x"}).status_code == 404
    assert "PACTA-1" not in client.get("/cases/").content.decode()


def test_viewers_may_not_open_cases(client):
    client.force_login(user_with_role("vic", "viewer"))
    assert "Open a case by hand" not in client.get("/cases/").content.decode()
    assert (
        client.post("/cases/", {"reference": "X-1", "title": "t", "respondent": "r"}).status_code
        == 403
    )


def test_account_page_shows_profile_assent_and_only_my_cases(record, client, counsel):
    _open(client)
    client.post("/cases/PACTA-1/accounts/", {"accounts": "acct_0", "basis": "payment"})
    page = client.get("/accounts/acct_0/").content.decode()
    assert "clickwrap".capitalize() in page or "Clickwrap" in page
    assert "PACTA-1" in page
    assert client.get("/accounts/acct_5/").status_code == 200


def test_external_reviewers_cannot_read_the_record(record, client):
    client.force_login(user_with_role("rita", "external reviewer"))
    assert client.get("/accounts/acct_0/").status_code == 404


def test_terms_pages_and_diff(record, client, counsel, tmp_path):
    new = tmp_path / "t2.md"
    new.write_text(TERMS.replace("(b) share API keys.", "(b) share or resell API keys."))
    terms_import(
        actor="system:test",
        path=new,
        document_slug="sa",
        title="Services Agreement",
        version_label="2",
        effective=dt.date(2026, 1, 1),
    )
    assert "from 1" in client.get("/terms/").content.decode()
    version = client.get("/terms/sa/2/").content.decode()
    assert "use Output to develop models that compete with us" in version
    diff = client.get("/terms/sa/1/compare/2/").content.decode()
    assert "<ins>or resell</ins>" in diff
    assert "changed" in diff


def test_case_page_query_count_is_bounded(
    record, client, counsel, django_assert_max_num_queries, tmp_path
):
    _open(client)
    accounts = tmp_path / "many.ndjson"
    accounts.write_text(
        "\n".join(json.dumps({"account_id": f"bulk_{i}"}) for i in range(400)) + "\n"
    )
    ingest_file(actor="system:test", kind="accounts", path=accounts)
    ids = " ".join(f"bulk_{i}" for i in range(400))
    client.post("/cases/PACTA-1/accounts/", {"accounts": ids, "basis": "investigation"})
    # A fixed number per section, never one a row, and the case read once: its access is
    # checked for the page, not again by each section. The countermeasures section
    # (actions, notices, exchanges) adds three, the productions' list one, the evidence of
    # use one (what is attached; none here); the clauses in force are read once for both
    # pickers (an allegation's, an action's); the attributed accounts are a page (rows,
    # their further bases: the count is the bases of attribution's) below the bases of
    # attribution (two groupings and the accounts resting on a second kind of basis). The
    # elements checklist adds five (its accounts, their further bases and their assent,
    # the allegations, the latest detection run), whatever the number of accounts.
    with django_assert_max_num_queries(50):
        response = client.get("/cases/PACTA-1/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "1 to 50 of 400 accounts · page 1 of 8" in page
    assert page.count('<tr><td><a class="mono" href="/accounts/') == 50
    # Page links lead to the case page, also when it is shown at a form's POST address.
    refused = client.post("/cases/PACTA-1/accounts/", {"accounts": "nope", "basis": "other"})
    assert refused.status_code == 400
    assert 'href="/cases/PACTA-1/?accounts=2#accounts-heading"' in refused.content.decode()


def test_open_case_command_from_accounts_with_a_clause(record, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    user_with_role("olive", "counsel")
    call_command(
        "open_case",
        "--ref",
        "CLI-1",
        "--title",
        "From the CLI",
        "--respondent",
        "Blue Finch",
        "--accounts",
        "acct_0,acct_1",
        "--clause",
        "sa:1:3.3(a)",
        "--owner",
        "olive",
        "--json",
    )
    out = json.loads(capsys.readouterr().out)
    assert out["accounts"] == 2
    assert out["allegations"] == ["sa:1:3.3(a)"]
    case = Case.objects.get(reference="CLI-1")
    assert case.opened_by.username == "olive"
    with pytest.raises(CommandError, match="--clause"):
        call_command(
            "open_case",
            "--ref",
            "CLI-2",
            "--title",
            "t",
            "--respondent",
            "r",
            "--accounts",
            "acct_0",
            "--clause",
            "sa:1:99",
            "--owner",
            "olive",
        )
    with pytest.raises(CommandError, match="--accounts"):
        call_command(
            "open_case",
            "--ref",
            "CLI-3",
            "--title",
            "t",
            "--respondent",
            "r",
            "--accounts",
            "nope",
            "--owner",
            "olive",
        )
    assert not Case.objects.filter(reference__in=["CLI-2", "CLI-3"]).exists()


def test_damages_follow_new_attributions_and_new_usage(record, client, counsel, tmp_path):
    _open(client)
    usage = tmp_path / "u.ndjson"
    usage.write_text(
        "\n".join(
            json.dumps(
                {
                    "request_id": f"r{i}",
                    "ts": "2026-01-06T10:00:00Z",
                    "account_id": f"acct_{i % 2}",
                    "model": "m",
                    "input_tokens": 1,
                    "output_tokens": 1000,
                }
            )
            for i in range(10)
        )
        + "\n"
    )
    ingest_file(actor="system:test", kind="usage", path=usage)
    client.post("/cases/PACTA-1/accounts/", {"accounts": "acct_0", "basis": "payment"})
    assert "5 requests, 5,000 output tokens" in client.get("/cases/PACTA-1/").content.decode()
    client.post("/cases/PACTA-1/accounts/", {"accounts": "acct_1", "basis": "payment"})
    assert "10 requests, 10,000 output tokens" in client.get("/cases/PACTA-1/").content.decode()
    more = tmp_path / "more.ndjson"
    more.write_text(
        json.dumps(
            {
                "request_id": "r99",
                "ts": "2026-01-07T10:00:00Z",
                "account_id": "acct_1",
                "model": "m",
                "input_tokens": 1,
                "output_tokens": 1000,
            }
        )
        + "\n"
    )
    ingest_file(actor="system:test", kind="usage", path=more)
    assert "11 requests, 11,000 output tokens" in client.get("/cases/PACTA-1/").content.decode()
