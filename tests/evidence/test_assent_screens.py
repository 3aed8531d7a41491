"""The screens accounts saw: screenshots and archived sign-up flows taken in as evidence
files, never trusted (type from the bytes, size capped, hash checked), stored by hash,
ledgered, and linked to the assent records that carry their hash. A refused file leaves
nothing behind."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import CommandError, call_command

from evidence.ingest.service import ingest_file
from evidence.models import AssentScreen, EvidenceItem, LedgerEntry
from evidence.screens import AssentScreenError, assent_screen_ingest
from tests.factories import (
    api_token,
    bearer_client,
    ndjson_file,
    terms_version,
    user_with_role,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

TERMS = (
    "# Services Agreement\n\n## 3. Use\n\n3.3 You may not use automated means to extract Output.\n"
)
SCREENS = "/api/v1/assent-screens/"


def png(seed: int = 0) -> bytes:
    """A real 1x1 PNG whose one pixel depends on `seed` (so each seed is another file)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00" + bytes([seed % 256, 10, 20])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def record(tmp_path):
    """A Terms version and three assent records: two carry the screenshot's hash."""
    terms_version(tmp_path, TERMS, label="2026-01-01", document="sa")
    shot = sha(png(1))
    ingest_file(
        actor="system:test",
        kind="accounts",
        path=ndjson_file(tmp_path / "accounts.ndjson", [{"account_id": f"a{i}"} for i in range(3)]),
    )
    ingest_file(
        actor="system:test",
        kind="assent",
        path=ndjson_file(
            tmp_path / "assent.ndjson",
            [
                {"account_id": f"a{i}", "terms": "sa", "version": "2026-01-01",
                 "ts": f"2026-01-0{i + 2}T08:00:00Z", "method": "clickwrap",
                 "flow_id": "signup-v4", "screenshot_sha256": shot if i < 2 else sha(b"other")}
                for i in range(3)
            ],
        ),
    )  # fmt: skip
    return shot


def ingest(data: bytes, name: str = "signup.png", **kwargs):
    kwargs.setdefault("flow_id", "signup-v4")
    kwargs.setdefault("source", "test")
    return assent_screen_ingest(
        actor="system:test", stream=io.BytesIO(data), file_name=name, **kwargs
    )


def nothing_stored(media: Path, entries_before: int) -> None:
    assert not EvidenceItem.objects.exists()
    assert not AssentScreen.objects.exists()
    assert LedgerEntry.objects.count() == entries_before
    assert not [p for p in Path(media).rglob("*") if p.is_file()]


def test_a_screenshot_is_kept_by_hash_ledgered_and_linked_to_the_records_naming_it(record):
    result = ingest(png(1), terms="sa:2026-01-01", expected_sha256=record)
    assert result.created and result.sha256 == record and result.assent_records == 2
    assert result.media_type == "image/png" and result.kind == "screenshot"
    screen = AssentScreen.objects.get()
    assert screen.item.kind == EvidenceItem.Kind.SCREENSHOT
    assert screen.item.sha256 == record
    with screen.item.file.open("rb") as fh:
        assert fh.read() == png(1)
    assert screen.terms_version.label == "2026-01-01"
    assert sorted(screen.assent_records().values_list("account__account_id", flat=True)) == [
        "a0",
        "a1",
    ]
    entry = LedgerEntry.objects.filter(object_type="assent_screen").get()
    assert entry.action == LedgerEntry.Action.LINKED
    assert entry.object_sha256 == record
    assert entry.details["assent_records"] == 2
    assert entry.details["terms_version"] == "sa:2026-01-01"
    collected = LedgerEntry.objects.get(object_type="evidence_item", object_id=str(screen.item_id))
    assert collected.action == LedgerEntry.Action.COLLECTED


def test_the_same_file_again_adds_nothing_and_a_different_description_is_refused(record):
    first = ingest(png(1))
    again = ingest(png(1))
    assert not again.created and again.screen == first.screen
    # One screenshot kept (the record's own ingested files are kept as raw uploads beside it).
    assert EvidenceItem.objects.filter(kind=EvidenceItem.Kind.SCREENSHOT).count() == 1
    with pytest.raises(AssentScreenError, match="different description") as exc:
        ingest(png(1), flow_id="signup-v9")
    assert exc.value.field == "file"


def test_an_html_archive_of_a_flow_is_a_flow_archive():
    page = b"\xef\xbb\xbf  <!DOCTYPE html><html><body>Sign up</body></html>"
    result = ingest(page, "signup-v4.html")
    assert result.kind == "flow_archive" and result.media_type == "text/html"
    assert AssentScreen.objects.get().item.kind == EvidenceItem.Kind.SIGNUP_FLOW


@pytest.mark.parametrize(
    ("data", "name", "field", "message"),
    [
        (b"#!/bin/sh\nrm -rf /\n", "signup.png", "file", "not a PNG, JPEG, PDF, HTML"),
        (png(1), "signup.jpg", "file", "its bytes are image/png but its name ends .jpg"),
        (b"%PDF-1.7 ...", "signup.html", "file", "its bytes are application/pdf"),
        (png(1), "signup.exe", "file", "name it .png"),
        (b"", "signup.png", "file", "empty"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_refused_and_nothing_is_stored(
    media_root, data, name, field, message
):
    before = LedgerEntry.objects.count()
    with pytest.raises(AssentScreenError, match=message) as exc:
        ingest(data, name)
    assert exc.value.field == field
    nothing_stored(media_root, before)


def test_a_file_over_the_size_limit_is_refused_while_read(media_root):
    before = LedgerEntry.objects.count()
    with pytest.raises(AssentScreenError, match="larger than the limit of 50 bytes"):
        ingest(png(1) + b"\x00" * 100, max_bytes=50)
    nothing_stored(media_root, before)


def test_a_hash_that_does_not_match_the_bytes_is_refused(media_root):
    before = LedgerEntry.objects.count()
    with pytest.raises(AssentScreenError, match="not the file described") as exc:
        ingest(png(1), expected_sha256=sha(png(2)))
    assert exc.value.field == "sha256"
    nothing_stored(media_root, before)


def test_an_unknown_terms_version_or_a_reversed_window_is_refused(media_root):
    import datetime as dt

    before = LedgerEntry.objects.count()
    with pytest.raises(AssentScreenError, match="no Terms version") as exc:
        ingest(png(1), terms="sa:1999-01-01")
    assert exc.value.field == "terms"
    later, earlier = dt.datetime(2026, 2, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(AssentScreenError, match="after it ended") as exc:
        ingest(png(1), shown_from=later, shown_until=earlier)
    assert exc.value.field == "shown-until"
    nothing_stored(media_root, before)


# --- the command -----------------------------------------------------------------------------


def test_the_command_keeps_the_file_and_prints_the_json_result(record, tmp_path):
    path = tmp_path / "signup-v4.png"
    path.write_bytes(png(1))
    out = io.StringIO()
    call_command(
        "ingest_evidence_file", str(path), "--flow", "signup-v4", "--terms", "sa:2026-01-01",
        "--shown-from", "2026-01-01", "--sha256", record, "--json", stdout=out,
    )  # fmt: skip
    result = json.loads(out.getvalue())
    assert result["sha256"] == record and result["assent_records"] == 2
    assert result["shown_from"].startswith("2026-01-01T00:00:00")


def test_the_command_refuses_a_wrong_type_naming_the_file(tmp_path, media_root):
    path = tmp_path / "signup.png"
    path.write_bytes(b"GIF89a not accepted")
    with pytest.raises(CommandError, match=r"signup\.png: not a PNG"):
        call_command("ingest_evidence_file", str(path), "--flow", "signup-v4")
    with pytest.raises(CommandError, match="--shown-from"):
        call_command("ingest_evidence_file", str(path), "--flow", "f", "--shown-from", "soon")
    assert not EvidenceItem.objects.exists()


# --- the REST API ----------------------------------------------------------------------------


@pytest.fixture
def api(counsel_user):
    cache.clear()  # throttle counters
    return bearer_client(api_token(counsel_user, "ingest", days=1, name="test")[1])


def post(client, data: bytes, name: str = "signup.png", query: str = "flow=signup-v4"):
    return client.post(
        f"{SCREENS}?{query}",
        data=data,
        content_type="application/octet-stream",
        HTTP_X_PACTA_FILE_NAME=name,
    )


def test_the_api_keeps_a_screenshot_and_links_it(api, record):
    response = post(api, png(1), query=f"flow=signup-v4&terms=sa:2026-01-01&sha256={record}")
    assert response.status_code == 201, response.content
    assert response.json()["assent_records"] == 2
    assert post(api, png(1), query="flow=signup-v4&terms=sa:2026-01-01").status_code == 200


def test_the_api_refuses_bad_input_naming_the_parameter(api, settings, media_root):
    response = post(api, b"<script>alert(1)</script>", "signup.png")
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]
    response = post(api, png(1), query="flow=signup-v4&sha256=" + "0" * 64)
    assert "sha256" in response.json()["error"]["fields"]
    response = post(api, png(1), query="")
    assert "flow" in response.json()["error"]["fields"]
    response = api.post(
        f"{SCREENS}?flow=signup-v4", data=png(1), content_type="application/octet-stream",
        HTTP_X_PACTA_FILE_NAME="signup.png", HTTP_CONTENT_ENCODING="gzip",
    )  # fmt: skip
    assert response.status_code == 415
    settings.PACTA_ASSENT_SCREEN_MAX_BYTES = 20
    assert post(api, png(1)).status_code == 413
    assert not EvidenceItem.objects.exists()


def test_a_user_whose_role_became_viewer_may_not_add_screens():
    user = user_with_role("vera", "investigator")
    client = bearer_client(api_token(user, "ingest", days=1, name="test")[1])
    user.groups.set([Group.objects.get_or_create(name="viewer")[0]])
    cache.clear()
    assert post(client, png(1)).status_code == 403
    assert not EvidenceItem.objects.exists()


def test_the_database_refuses_to_change_or_delete_a_screen():
    from django.db import DatabaseError, transaction

    ingest(png(1))
    with pytest.raises(DatabaseError, match="assent screens"), transaction.atomic():
        AssentScreen.objects.update(flow_id="signup-v9")
    with pytest.raises(DatabaseError, match="assent screens"), transaction.atomic():
        AssentScreen.objects.all().delete()
    assert AssentScreen.objects.get().flow_id == "signup-v4"


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"<HTML><body>", "text/html"),
        (b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=x", "multipart/related"),
        (b"MIME-Version: 1.0\r\nContent-Type: text/plain", None),
        (b"GIF89a", None),
        (b"<svg onload=alert(1)>", None),
    ],
)
def test_the_type_is_read_from_the_bytes(head, media_type):
    from evidence.screens import media_type_sniff

    assert media_type_sniff(head) == media_type


def test_verification_finds_a_screen_whose_hash_was_changed_behind_the_triggers():
    from django.db import connection

    from evidence.custody.verification import evidence_verify

    result = ingest(png(1))
    assert evidence_verify(actor="system:test").ok
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER assent_screen_refuse_update_delete ON evidence_assentscreen")
        cursor.execute(
            "UPDATE evidence_assentscreen SET sha256 = %s WHERE id = %s",
            [sha(png(2)), result.screen],
        )
    run = evidence_verify(actor="system:test")
    assert not run.ok
    assert any(f["object"] == "assent_screen" for f in run.failures), run.failures
