"""POST /api/v1/ingest/{kind}/: the same ingest as the command, streamed, scoped, throttled."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.handlers.wsgi import LimitedStream, WSGIRequest
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from evidence.api.ingest import IngestView
from evidence.models import IngestBatch, LedgerEntry, UsageEvent
from tests.factories import api_token, bearer_client, ndjson_bytes, usage_event, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

INGEST_USAGE = "/api/v1/ingest/usage/"
BATCHES = "/api/v1/batches/"
NDJSON = "application/x-ndjson"


@pytest.fixture(autouse=True)
def upload_dir(tmp_path, settings):
    """Uploads are spooled here, so a test can see that none is left behind."""
    cache.clear()  # throttle counters
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    yield folder
    assert list(folder.iterdir()) == [], "an uploaded body was left on disk"


def as_csv(records) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue().encode()


def token_for(user, *scopes) -> str:
    return api_token(user, *scopes, days=1, name="test")[1]


@pytest.fixture
def ingest_client(counsel_user) -> APIClient:
    return bearer_client(token_for(counsel_user, "ingest"))


def post(client, body: bytes, *, url=INGEST_USAGE, content_type=NDJSON, **extra):
    return client.post(url, data=body, content_type=content_type, **extra)


def assert_error(response, status: int) -> dict:
    """The one error shape: {"error": {status, code, message[, fields]}}[, documents beside]."""
    assert response.status_code == status, response.content
    body = json.loads(response.content)
    error = body["error"]
    assert set(body) <= {"error", "result"}
    assert set(error) <= {"status", "code", "message", "fields"}
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


# --- who may ingest --------------------------------------------------------------------------


def test_an_ingest_token_ingests_usage_and_may_not_read(counsel_user, ingest_client):
    response = post(ingest_client, ndjson_bytes([usage_event(i, bare=True) for i in range(5)]))
    assert response.status_code == 201, response.content
    result = response.json()
    assert (result["accepted"], result["rejected"], result["status"]) == (5, 0, "committed")
    assert UsageEvent.objects.count() == 5
    batch = IngestBatch.objects.get(pk=result["batch"])
    assert batch.source == "api"
    assert batch.collector == counsel_user
    assert response["Location"] == f"/api/v1/batches/{batch.pk}/"
    entry = LedgerEntry.objects.get(object_type="ingest_batch", object_id=str(batch.pk))
    assert (entry.actor, entry.details["source"]) == ("alice", "api")

    error = assert_error(ingest_client.get(BATCHES), 403)
    assert "read" in error["message"]
    assert_error(ingest_client.get(f"/api/v1/batches/{batch.pk}/"), 403)


def test_a_read_token_reads_batches_and_may_not_ingest(counsel_user, ingest_client):
    first = post(ingest_client, ndjson_bytes([usage_event(1, bare=True)])).json()["batch"]
    second = post(ingest_client, ndjson_bytes([usage_event(2, bare=True)])).json()["batch"]
    reader = bearer_client(token_for(counsel_user, "read"))

    error = assert_error(post(reader, ndjson_bytes([usage_event(3, bare=True)])), 403)
    assert error["code"] == "missing_scope"
    assert "ingest" in error["message"]
    assert UsageEvent.objects.count() == 2

    listing = reader.get(BATCHES)
    assert listing.status_code == 200
    assert listing.json()["count"] == 2
    assert [b["id"] for b in listing.json()["results"]] == [second, first]  # newest first
    page = reader.get(BATCHES, {"limit": 1, "offset": 1}).json()
    assert [b["id"] for b in page["results"]] == [first]
    detail = reader.get(f"/api/v1/batches/{first}/").json()
    assert (detail["source"], detail["collector"], detail["accepted"]) == ("api", "alice", 1)
    assert_error(reader.get("/api/v1/batches/999999/"), 404)


def test_only_roles_that_collect_evidence_may_ingest(counsel_user):
    """A viewer or an external reviewer is never issued an ingest token; a token issued
    before its user's role was withdrawn is refused (403) before the body is read, and
    nothing is stored."""
    for username, role in (("vic", "viewer"), ("rita", "external reviewer")):
        user = user_with_role(username, role)
        with pytest.raises(ValidationError, match=f"user {username} may not ingest"):
            token_for(user, "ingest")
    client = bearer_client(token_for(counsel_user, "ingest"))
    counsel_user.groups.clear()
    counsel_user._pacta_roles = None  # as on the next request: roles are read afresh
    error = assert_error(post(client, ndjson_bytes([usage_event(1, bare=True)])), 403)
    assert "may not add to the record" in error["message"]
    assert not IngestBatch.objects.exists() and not UsageEvent.objects.exists()


def test_no_credentials_is_401():
    response = post(APIClient(), ndjson_bytes([usage_event(1, bare=True)]))
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"
    assert not UsageEvent.objects.exists()


# --- what is received --------------------------------------------------------------------------


def test_gzip_body_is_hashed_as_sent(ingest_client):
    body = gzip.compress(ndjson_bytes([usage_event(i, bare=True) for i in range(4)]))
    response = post(ingest_client, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 201, response.content
    result = response.json()
    assert result["accepted"] == 4
    assert result["sha256"] == hashlib.sha256(body).hexdigest()
    assert result["size"] == len(body)
    assert (
        IngestBatch.objects.get(pk=result["batch"]).raw_sha256 == hashlib.sha256(body).hexdigest()
    )
    assert re.fullmatch(r"upload-\d{8}T\d{6}Z\.ndjson\.gz", result["file"])


def test_csv_body_by_content_type(ingest_client):
    records = [usage_event(i, bare=True) for i in range(3)]
    response = post(ingest_client, as_csv(records), content_type="text/csv; charset=utf-8")
    assert response.status_code == 201, response.content
    assert (response.json()["format"], response.json()["accepted"]) == ("csv", 3)
    assert UsageEvent.objects.count() == 3


def test_file_name_header_keeps_only_a_tame_base_name(ingest_client):
    response = post(
        ingest_client,
        ndjson_bytes([usage_event(1, bare=True)]),
        HTTP_X_PACTA_FILE_NAME="../../etc/usage<2026>.ndjson",
    )
    assert response.json()["file"] == "usage_2026_.ndjson"


def test_the_view_never_reads_the_body_into_memory(ingest_client, settings, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the whole body was read into memory")

    reads: list[int | None] = []
    original_read = LimitedStream.read

    def recording_read(self, size=-1):
        reads.append(size)
        return original_read(self, size)

    monkeypatch.setattr(HttpRequest, "body", property(refuse))
    monkeypatch.setattr(WSGIRequest, "POST", property(refuse))
    monkeypatch.setattr(Request, "data", property(refuse))
    monkeypatch.setattr(LimitedStream, "read", recording_read)
    settings.PACTA_UPLOAD_CHUNK_BYTES = 256
    body = ndjson_bytes([usage_event(i, bare=True) for i in range(20)])
    response = post(ingest_client, body)
    assert response.status_code == 201, response.content
    assert response.json()["accepted"] == 20
    assert len(reads) > len(body) // 256
    assert all(size is not None and 0 < size <= 256 for size in reads)


# --- refusals ----------------------------------------------------------------------------------


def test_strict_mode_with_a_bad_line_is_422_and_stores_nothing(ingest_client):
    body = ndjson_bytes(
        [
            usage_event(1, bare=True),
            usage_event(2, bare=True, input_tokens="many"),
            usage_event(3, bare=True),
        ]
    )
    response = post(ingest_client, body, url=INGEST_USAGE + "?strict=true")
    error = assert_error(response, 422)
    assert error["code"] == "ingest_refused"
    assert "line 2" in error["message"] and "input_tokens" in error["message"]
    result = response.json()["result"]
    assert result["status"] == "rejected"
    assert result["accepted"] == 0
    assert result["errors"][0]["line"] == 2
    assert result["errors"][0]["field"] == "input_tokens"
    assert not UsageEvent.objects.exists()
    assert IngestBatch.objects.get(pk=result["batch"]).status == "rejected"


def test_default_mode_keeps_the_good_lines_and_lists_the_bad(ingest_client):
    body = ndjson_bytes(
        [
            usage_event(1, bare=True),
            usage_event(2, bare=True, input_tokens="many"),
            usage_event(3, bare=True),
        ]
    )
    response = post(ingest_client, body, url=INGEST_USAGE + "?strict=0")
    assert response.status_code == 201
    assert (response.json()["accepted"], response.json()["rejected"]) == (2, 1)


def test_an_empty_body_is_422(ingest_client):
    error = assert_error(post(ingest_client, b""), 422)
    assert "empty" in error["message"]
    assert not UsageEvent.objects.exists()


def test_an_unusable_csv_header_is_422(ingest_client):
    response = post(ingest_client, b"colour,shape\nred,round\n", content_type="text/csv")
    assert_error(response, 422)


def _deep_line(depth: int) -> bytes:
    head = json.dumps(usage_event(7, bare=True))[:-1].encode()
    return head + b', "params": {"deep": ' + b"[" * depth + b"]" * depth + b"}}\n"


def test_a_line_nested_too_deep_is_rejected_by_number_and_the_rest_kept(ingest_client):
    """It answered an HTML 500 (a RecursionError) and stored none of the file."""
    body = ndjson_bytes([usage_event(1, bare=True)]) + _deep_line(1_000)
    body += ndjson_bytes([usage_event(3, bare=True)])
    response = post(ingest_client, body)
    assert response.status_code == 201, response.content
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (2, 1)
    assert result["errors"] == [
        {"line": 2, "field": None, "message": "nested deeper than 64 levels"}
    ]
    error = assert_error(post(ingest_client, body, url=INGEST_USAGE + "?strict=1"), 422)
    assert "line 2: nested deeper than 64 levels" in error["message"]


def test_a_gzip_bomb_is_422_naming_the_file_and_the_limit(ingest_client):
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode="wb", compresslevel=9) as out:
        for _ in range(32):
            out.write(b"\0" * 1024 * 1024)
    response = post(
        ingest_client,
        bomb.getvalue(),
        content_type="application/gzip",
        HTTP_X_PACTA_FILE_NAME="spend.ndjson.gz",
    )
    error = assert_error(response, 422)
    assert error["code"] == "ingest_refused"
    assert "spend.ndjson.gz was refused" in error["message"]
    assert "200 times the compressed size" in error["message"]
    result = response.json()["result"]
    assert (result["status"], result["accepted"]) == ("rejected", 0)
    batch = IngestBatch.objects.get(pk=result["batch"])
    assert batch.raw_sha256 == hashlib.sha256(bomb.getvalue()).hexdigest()
    assert not UsageEvent.objects.exists()


def test_an_unexpected_failure_is_a_json_500_with_a_logged_incident(
    ingest_client, monkeypatch, caplog
):
    def broken(**kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("evidence.api.ingest.ingest_file", broken)
    response = post(ingest_client, ndjson_bytes([usage_event(1, bare=True)]))
    error = assert_error(response, 500)
    assert error["code"] == "internal_error"
    incident = re.search(r"incident ([0-9a-f]{16})", error["message"]).group(1)
    [record] = [r for r in caplog.records if incident in r.getMessage()]
    assert record.levelname == "ERROR" and record.exc_info[0] is OSError


def test_a_body_over_the_limit_is_413(ingest_client, settings):
    settings.PACTA_INGEST_MAX_UPLOAD_BYTES = 100
    error = assert_error(
        post(ingest_client, ndjson_bytes([usage_event(i, bare=True) for i in range(5)])), 413
    )
    assert "100 bytes" in error["message"]
    assert not IngestBatch.objects.exists()


def test_a_body_without_content_length_is_cut_off_while_streaming(counsel_user, settings):
    """As an ASGI server may send it: no Content-Length, so the limit is enforced on the way."""
    settings.PACTA_INGEST_MAX_UPLOAD_BYTES = 1000
    settings.PACTA_UPLOAD_CHUNK_BYTES = 64
    body = ndjson_bytes([usage_event(i, bare=True) for i in range(50)])
    request = APIRequestFactory().post(
        INGEST_USAGE, data=body, content_type=NDJSON,
        HTTP_AUTHORIZATION=f"Bearer {token_for(counsel_user, 'ingest')}",
    )  # fmt: skip
    del request.META["CONTENT_LENGTH"]
    request._stream = io.BytesIO(body)
    response = IngestView.as_view()(request, kind="usage")
    response.render()
    assert_error(response, 413)
    assert not IngestBatch.objects.exists()


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/ingest/payments/", "kind"),
        (INGEST_USAGE + "?format=xml", "format"),
        (INGEST_USAGE + "?strict=yes", "strict"),
        ("/api/v1/ingest/accounts/?format=litellm", "format"),
    ],
)
def test_a_bad_parameter_is_400_naming_it(ingest_client, url, parameter):
    error = assert_error(
        post(ingest_client, ndjson_bytes([usage_event(1, bare=True)]), url=url), 400
    )
    assert list(error["fields"]) == [parameter]
    assert error["message"].startswith(f"{parameter}:")
    assert not IngestBatch.objects.exists()


def test_explicit_format_and_strict(ingest_client):
    url = INGEST_USAGE + "?format=native&strict=TRUE"
    response = post(ingest_client, ndjson_bytes([usage_event(1, bare=True)]), url=url)
    assert response.status_code == 201, response.content


def test_an_empty_chunked_body_asks_for_a_content_length(counsel_user):
    request = APIRequestFactory().post(
        INGEST_USAGE,
        content_type=NDJSON,
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_AUTHORIZATION=f"Bearer {token_for(counsel_user, 'ingest')}",
    )
    response = IngestView.as_view()(request, kind="usage")
    response.render()
    assert_error(response, 411)


def test_other_methods_are_405(ingest_client):
    assert_error(ingest_client.get(INGEST_USAGE), 405)


def test_an_unknown_content_encoding_is_415(ingest_client):
    response = post(
        ingest_client, ndjson_bytes([usage_event(1, bare=True)]), HTTP_CONTENT_ENCODING="br"
    )
    assert_error(response, 415)


def test_the_ingest_rate_is_throttled(ingest_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token": "1000/min", "ingest": "2/min"},
    }
    for n in range(2):
        assert post(ingest_client, ndjson_bytes([usage_event(n, bare=True)])).status_code == 201
    response = post(ingest_client, ndjson_bytes([usage_event(9, bare=True)]))
    error = assert_error(response, 429)
    assert error["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert UsageEvent.objects.count() == 2
