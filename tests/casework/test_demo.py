"""Demo mode: the documented users exist, can sign in, and see the loaded record."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest

from casework.demo import DEMO_ALLEGATIONS, DEMO_CASE_REFERENCE, DEMO_PASSWORD
from casework.models import Case
from evidence.models import Account, Clause, LedgerEntry, UsageEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def test_seed_demo_creates_users_and_loads_the_scenario(tmp_path, client):
    out = tmp_path / "demo"
    call_command("seed_demo", "--out", str(out), "--accounts", "300", "--events", "10000")
    users = set(get_user_model().objects.values_list("username", flat=True))
    assert {"counsel", "investigator", "viewer"} <= users
    assert Account.objects.count() == 300
    assert UsageEvent.objects.count() == 10000
    assert Clause.objects.filter(version__label="2026-01-01").exists()

    # django-axes counts every password sign-in against the request it came with.
    assert client.login(request=HttpRequest(), username="counsel", password=DEMO_PASSWORD)
    page = client.get("/")
    assert page.status_code == 200
    assert b"10000" in page.content  # the record's usage count on the home page

    # A second run reuses the files and adds nothing.
    call_command("seed_demo", "--out", str(out), "--accounts", "300", "--events", "10000")
    assert UsageEvent.objects.count() == 10000


def test_home_requires_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.slow
@pytest.mark.usefixtures("signing")
def test_the_demo_case_goes_through_the_services_and_its_report_is_signed(tmp_path):
    """`make demo`'s case: every allegation is the service's (a ledger entry each), the
    case is on hold and the signed report is written; `--json` says all of it."""
    out = tmp_path / "demo"
    stdout = io.StringIO()
    call_command(
        "seed_demo",
        "--out",
        str(out),
        "--accounts",
        "200",
        "--events",
        "10000",
        "--report",
        "--json",
        stdout=stdout,
    )
    document = json.loads(stdout.getvalue())
    assert document["users"] == ["counsel", "investigator", "viewer"]
    assert document["report"]["status"] == "done"
    assert Path(document["report"]["path"]).read_bytes().startswith(b"%PDF")

    case = Case.objects.get(reference=DEMO_CASE_REFERENCE)
    assert case.legal_hold
    allegations = set(case.allegations.values_list("pk", flat=True))
    assert len(allegations) == len(DEMO_ALLEGATIONS)
    ledgered = {
        entry.details.get("allegation")
        for entry in LedgerEntry.objects.filter(object_type="case", object_id=case.reference)
    }
    assert allegations <= ledgered
