"""API tokens: hashed at rest, ledgered, refused when expired, revoked or out of scope."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from casework.api_platform.auth import ScopePermission
from casework.api_platform.tokens import api_token_revoke
from casework.models import ApiToken
from evidence.custody.ledger import ledger_for_object, ledger_verify
from tests.factories import api_token, bearer_client

pytestmark = pytest.mark.django_db

BATCHES = "/api/v1/batches/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = json.loads(response.content)
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"status", "code", "message", "fields"}
    assert error["status"] == status
    assert error["code"] and error["message"]
    return error


def test_only_the_hash_of_a_token_is_stored(counsel_user):
    token, plaintext = api_token(counsel_user, "ingest", days=30)
    assert plaintext.startswith("pacta_")
    assert token.key_sha256 == hashlib.sha256(plaintext.encode()).hexdigest()
    assert token.prefix == plaintext[:12]
    secret_part = plaintext[12:]
    # Every row of every table, as text: neither the token nor its secret part is anywhere.
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(
                f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE %s',
                [f"%{secret_part}%"],
            )
            assert cursor.fetchone()[0] == 0, f"the token's secret is stored in {table}"


def test_issue_and_revoke_are_in_the_ledger_without_the_secret(counsel_user):
    token, plaintext = api_token(counsel_user, "ingest", "read", days=7)
    api_token_revoke(actor="system:test", token=token)
    api_token_revoke(actor="system:test", token=token)  # again: nothing more recorded
    created, changed = ledger_for_object(object_type="api_token", object_id=token.pk)
    assert created.action == "created"
    assert created.details["name"] == "pipeline"
    assert created.details["user"] == "alice"
    assert created.details["scopes"] == ["ingest", "read"]
    assert created.details["expires_at"].startswith(
        str((timezone.now() + timedelta(days=7)).date())
    )
    assert changed.action == "changed"
    assert changed.details["change"] == "revoked"
    assert changed.details["revoked_at"]
    for entry in (created, changed):
        text = json.dumps(entry.details)
        assert plaintext[12:] not in text
        assert token.key_sha256 not in text
    assert ledger_verify().ok


@pytest.mark.parametrize("scopes", [(), ("admin",), ("ingest", "everything")])
def test_a_token_needs_known_scopes(counsel_user, scopes):
    with pytest.raises(ValidationError):
        api_token(counsel_user, *scopes)
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("scopes", [[], ["admin"], "ingest", {"ingest": True}])
def test_the_database_refuses_bad_scopes(counsel_user, scopes):
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(
            user=counsel_user, name="x", prefix="pacta_x", key_sha256="a" * 64, scopes=scopes
        )


def test_an_expired_token_is_refused(counsel_user):
    token, plaintext = api_token(counsel_user, "read", days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    error = assert_error(bearer_client(plaintext).get(BATCHES), 401)
    assert "expired" in error["message"]


def test_a_revoked_token_is_refused(counsel_user):
    token, plaintext = api_token(counsel_user, "read")
    assert bearer_client(plaintext).get(BATCHES).status_code == 200
    api_token_revoke(actor="system:test", token=token)
    error = assert_error(bearer_client(plaintext).get(BATCHES), 401)
    assert "revoked" in error["message"]


def test_a_token_of_an_inactive_user_is_refused(counsel_user):
    _, plaintext = api_token(counsel_user, "read")
    counsel_user.is_active = False
    counsel_user.save()
    error = assert_error(bearer_client(plaintext).get(BATCHES), 401)
    assert "inactive" in error["message"]


@pytest.mark.parametrize(
    "header",
    ["Bearer pacta_not-a-real-token", "Bearer sk-something-else", "Bearer", "Bearer a b"],
)
def test_unknown_or_malformed_tokens_are_refused(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(BATCHES)
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


def test_no_credentials_is_401_with_a_bearer_challenge():
    response = APIClient().get(BATCHES)
    error = assert_error(response, 401)
    assert error["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_last_use_is_recorded_at_most_once_a_minute(counsel_user):
    token, plaintext = api_token(counsel_user, "read")
    client = bearer_client(plaintext)
    client.get(BATCHES)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    client.get(BATCHES)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get(BATCHES)
    token.refresh_from_db()
    assert token.last_used_at > first


class _NoScopesDeclared(APIView):
    def get(self, request):
        return Response({"ok": True})


def test_a_view_that_declares_no_scope_refuses_tokens(counsel_user):
    _, plaintext = api_token(counsel_user, "ingest", "read", "write")
    request = APIRequestFactory().get("/x/", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    response = _NoScopesDeclared.as_view()(request)
    response.render()
    error = assert_error(response, 403)
    assert error["code"] == "token_not_accepted"


def test_people_signed_in_are_not_limited_by_scopes(counsel_user):
    client = APIClient()
    client.force_login(counsel_user)
    assert client.get(BATCHES).status_code == 200
    request = APIRequestFactory().get("/x/")
    force_authenticate(request, user=counsel_user)
    response = _NoScopesDeclared.as_view()(request)
    assert response.status_code == 200


def _api_views(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is not None and issubclass(view_class, APIView):
                yield str(pattern.pattern), view_class


def test_every_api_view_checks_token_scopes():
    views = list(_api_views(get_resolver().url_patterns))
    assert views
    for route, view_class in views:
        assert ScopePermission in view_class.permission_classes, route
        assert getattr(view_class, "required_scopes", None), route


# --- commands ------------------------------------------------------------------------------


def test_issue_token_prints_the_token_once(counsel_user, capsys):
    call_command("issue_token", "alice", "--scope", "ingest", "--days", "30", "--json")
    document = json.loads(capsys.readouterr().out)
    token = ApiToken.objects.get()
    assert document["token"].startswith(token.prefix)
    assert hashlib.sha256(document["token"].encode()).hexdigest() == token.key_sha256
    assert document["scopes"] == ["ingest"]
    assert document["expires_at"]
    # It authenticates (a 401 otherwise), and is refused only for want of the read scope.
    assert (
        assert_error(bearer_client(document["token"]).get(BATCHES), 403)["code"] == "missing_scope"
    )


def test_issue_token_in_words(counsel_user, capsys):
    call_command("issue_token", "alice", "--scope", "read", "--scope", "ingest", "--name", "etl")
    out = capsys.readouterr().out
    token = ApiToken.objects.get()
    assert out.splitlines()[0].startswith("pacta_")
    assert "never expires" in out
    assert (token.name, token.scopes) == ("etl", ["ingest", "read"])


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        (["nobody", "--scope", "ingest"], "USERNAME"),
        (["alice", "--scope", "admin"], "--scope"),
        (["alice", "--scope", "read", "--days", "0"], "--days"),
    ],
)
def test_issue_token_names_the_bad_parameter(counsel_user, args, parameter):
    with pytest.raises(CommandError, match=parameter):
        call_command("issue_token", *args)
    assert not ApiToken.objects.exists()


def test_revoke_token_by_prefix(counsel_user, capsys):
    token, plaintext = api_token(counsel_user, "read")
    call_command("revoke_token", token.prefix)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in capsys.readouterr().out
    assert bearer_client(plaintext).get(BATCHES).status_code == 401
    with pytest.raises(CommandError, match="PREFIX"):
        call_command("revoke_token", "pacta_nothin")


def test_requests_with_tokens_are_throttled_per_user(counsel_user, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "2/min", "ingest": "1000/min"},
    }
    _, first = api_token(counsel_user, "read")
    _, second = api_token(counsel_user, "read")
    assert bearer_client(first).get(BATCHES).status_code == 200
    assert bearer_client(second).get(BATCHES).status_code == 200
    response = bearer_client(first).get(BATCHES)  # the user's third request, whichever token
    assert assert_error(response, 429)["code"] == "throttled"
    assert "Retry-After" in response
    # A person signed in is not counted against the machines' budget.
    client = APIClient()
    client.force_login(counsel_user)
    assert client.get(BATCHES).status_code == 200
