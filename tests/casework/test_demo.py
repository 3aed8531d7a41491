"""Demo mode: the documented users exist, can sign in, and see the loaded record."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest

from casework.demo import DEMO_PASSWORD
from evidence.models import Account, Clause, UsageEvent

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
