"""Sign-in throttling (django-axes) and the Content-Security-Policy (django-csp) on every page.

A password guesser is locked out per username and address after a few failures, even when
it then guesses right; machines with API tokens are neither counted nor blocked; and every
HTML page tells the browser to run only the app's own scripts and styles.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from rest_framework.test import APIClient

from casework.api_platform.tokens import api_token_issue
from casework.models import Case
from casework.services import case_open
from evidence.ingest.service import ingest_file
from evidence.models import Account, Cluster, ClusterMember, DetectionRun, Finding, Link
from tests.factories import user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

PASSWORD = "a-long-password-1"  # what tests.conftest.user_with_role sets
ELSEWHERE = "203.0.113.7"  # another desk (the test client's own address is 127.0.0.1)

# The policy every page must carry: directive -> the exact sources allowed.
POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # the API's rate throttles count in the cache


def csp_directives(response) -> dict[str, set[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


def record_world(tmp_path, owner) -> tuple[Case, Cluster]:
    """A small record as detection leaves it: accounts with usage, one critical cluster of
    two accounts linked by a shared card, and a case its owner opened."""
    t0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    accounts = tmp_path / "accounts.ndjson"
    accounts.write_text(
        "".join(json.dumps({"account_id": f"acct_{i}", "plan": "tier-2"}) + "\n" for i in range(4))
    )
    ingest_file(actor="system:test", kind="accounts", path=accounts)
    usage = tmp_path / "usage.ndjson"
    usage.write_text(
        "".join(
            json.dumps(
                {
                    "request_id": f"req_{n:04d}",
                    "ts": (t0 + dt.timedelta(hours=5 * n)).isoformat(),
                    "account_id": f"acct_{n % 2}",
                    "model": "frontier-2",
                    "input_tokens": 100 + n,
                    "output_tokens": 200 + n,
                }
            )
            + "\n"
            for n in range(20)
        )
    )
    ingest_file(actor="system:test", kind="usage", path=usage)
    now = timezone.now()
    run = DetectionRun.objects.create(
        started_at=now, finished_at=now, status="finished", actor="system:test"
    )
    cluster = Cluster.objects.create(
        run=run, score=90, band="critical", size=2, explanation="one card", created_at=now
    )
    a, b = Account.objects.filter(account_id__in=["acct_0", "acct_1"]).order_by("pk")
    for account in (a, b):
        ClusterMember.objects.create(cluster=cluster, account=account)
        Finding.objects.create(
            run=run,
            detector="probability_harvesting",
            detector_version="1",
            account=account,
            window_start=t0,
            window_end=t0 + dt.timedelta(days=5),
            value=0.9,
            baseline={"median": 0.01},
            threshold=0.5,
            fired=True,
            explanation="logprobs on every request",
            created_at=now,
        )
    Link.objects.create(
        run=run,
        account_a=a,
        account_b=b,
        kind="shared_payment",
        detector_version="1",
        strength="hard",
        evidence={},
        explanation="the same card",
        sample_request_ids=[],
        created_at=now,
    )
    case = case_open(actor=owner, reference="PACTA-SEC-1", title="Distillation", respondent="BF")
    return case, cluster


# --- Sign-in throttling ------------------------------------------------------------------


def _sign_in(client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def _fail_until_locked(client, username: str):
    """Wrong passwords up to the limit; the last one is answered with the lockout page."""
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _sign_in(client, username, "wrong-password")
        assert response.status_code == 200  # the form again, with its error
        assert b"Please enter a correct username and password" in response.content
    return _sign_in(client, username, "wrong-password")


def test_the_right_password_is_refused_after_too_many_wrong_ones(client, django_user_model):
    user_with_role("casey", "counsel")

    locked = _fail_until_locked(client, "casey")
    assert locked.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in locked.templates]
    assert b"Sign-in temporarily locked" in locked.content
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert f"Try again in {minutes} minutes".encode() in locked.content

    refused = _sign_in(client, "casey", PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_one_username_at_one_address(client, django_user_model):
    user_with_role("casey", "counsel")
    user_with_role("robin", "investigator")
    assert _fail_until_locked(client, "casey").status_code == 429

    # The same person at another desk, and a colleague at this one, still sign in.
    assert _sign_in(client, "casey", PASSWORD, address=ELSEWHERE).status_code == 302
    client.logout()
    assert _sign_in(client, "robin", PASSWORD).status_code == 302


def test_the_lock_lifts_after_the_cool_off(client, django_user_model):
    user_with_role("casey", "counsel")
    assert _fail_until_locked(client, "casey").status_code == 429

    # The cool-off passes: move the recorded attempts back by that long.
    cool_off = settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - cool_off)
    response = _sign_in(client, "casey", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(django_user_model.objects.get().pk)


def test_tokens_are_neither_counted_nor_blocked(client, django_user_model):
    user = user_with_role("casey", "counsel")
    _, plaintext = api_token_issue(
        actor="system:test", user=user, name="pipeline", scopes=["read"], days=1
    )
    machine = APIClient(REMOTE_ADDR="127.0.0.1")

    # Wrong tokens are refused by the API, but are not failed passwords.
    machine.credentials(HTTP_AUTHORIZATION="Bearer pacta_not-a-real-token")
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        assert machine.get("/api/v1/batches/").status_code == 401
    assert not AccessAttempt.objects.exists()

    # Locked out of the sign-in form, the user's token still works from the same address.
    assert _fail_until_locked(client, "casey").status_code == 429
    machine.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert machine.get("/api/v1/batches/").status_code == 200


# --- Content-Security-Policy -------------------------------------------------------------

INLINE = re.compile(rb"<style|\sstyle=|<script(?![^>]*\ssrc=)|\son[a-z]+=", re.IGNORECASE)


def test_every_page_carries_the_policy_and_nothing_inline(tmp_path, client, django_user_model):
    owner = user_with_role("casey", "counsel")
    case, cluster = record_world(tmp_path, owner)

    pages = {"/login/": client.get("/login/")}
    client.force_login(owner)
    for path in (
        "/",
        "/cases/",
        f"/cases/{case.reference}/",
        "/clusters/",
        f"/clusters/{cluster.pk}/",
        "/accounts/acct_0/",
        "/terms/",
    ):
        pages[path] = client.get(path)

    for path, response in pages.items():
        assert response.status_code == 200, path
        directives = csp_directives(response)
        for name, sources in POLICY.items():
            assert directives.get(name) == sources, (path, name, directives.get(name))
        assert not INLINE.search(response.content), (path, INLINE.search(response.content))


def test_the_lockout_page_carries_the_policy(client, django_user_model):
    user_with_role("casey", "counsel")
    locked = _fail_until_locked(client, "casey")
    assert locked.status_code == 429
    directives = csp_directives(locked)
    assert all(directives.get(name) == sources for name, sources in POLICY.items())


def test_the_api_docs_page_allows_only_its_own_inline_blocks(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    directives = csp_directives(response)
    nonces = {s for s in directives["script-src"] if s.startswith("'nonce-")}
    assert directives["script-src"] == {"'self'"} | nonces and len(nonces) == 1
    assert directives["style-src"] == directives["script-src"]
    assert directives["img-src"] == {"'self'", "data:"}  # Swagger UI's icons
    for name in ("default-src", "object-src", "base-uri", "frame-ancestors", "form-action"):
        assert directives[name] == POLICY[name]
    nonce = nonces.pop().removeprefix("'nonce-").removesuffix("'")
    content = response.content.decode()
    assert content.count(f'nonce="{nonce}"') == 2  # its one <style> and one <script>
    assert len(re.findall(r"<script(?![^>]*\ssrc=)", content)) == 1
