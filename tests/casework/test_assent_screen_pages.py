"""The Terms page lists the screens accounts saw when accepting the version, and each
file is served so that it cannot run in the browser: images inline as images only,
archived sign-up pages as downloads of bytes. Every download is in the ledger."""

from __future__ import annotations

import io

import pytest

from evidence.models import LedgerEntry
from evidence.screens import assent_screen_ingest
from tests.evidence.test_assent_screens import png
from tests.factories import terms_version, user_with_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

TERMS = "# Services Agreement\n\n## 3. Use\n\n3.3 You may not extract Output.\n"
PAGE = "<!DOCTYPE html><html><body><script>alert(1)</script>Sign up</body></html>"


@pytest.fixture
def screens(tmp_path):
    terms_version(tmp_path, TERMS, label="2026-01-01", document="sa")
    found = {}
    for name, data in (("signup-v4.png", png(3)), ("signup-v4.html", PAGE.encode())):
        found[name] = assent_screen_ingest(
            actor="system:test", stream=io.BytesIO(data), file_name=name,
            flow_id="signup-v4", source="test", terms="sa:2026-01-01",
        )  # fmt: skip
    return found


def test_the_terms_page_lists_the_screens_of_the_version(client, screens):
    client.force_login(user_with_role("ines", "investigator"))
    page = client.get("/terms/sa/2026-01-01/").content.decode()
    assert "Screens accounts saw" in page
    for result in screens.values():
        assert result.sha256 in page
        assert f"/screens/{result.screen}/file/" in page
    assert "<script>alert" not in page


def test_an_image_is_served_inline_as_an_image_only_and_the_download_ledgered(client, screens):
    client.force_login(user_with_role("ines", "investigator"))
    shot = screens["signup-v4.png"]
    response = client.get(f"/screens/{shot.screen}/file/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == png(3)
    entry = LedgerEntry.objects.filter(action=LedgerEntry.Action.EXPORTED).latest("seq")
    assert entry.object_id == str(shot.evidence_item) and entry.actor == "ines"


def test_an_archived_page_is_a_download_of_bytes_never_rendered(client, screens):
    client.force_login(user_with_role("ines", "investigator"))
    response = client.get(f"/screens/{screens['signup-v4.html'].screen}/file/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


def test_who_may_not_read_the_record_gets_no_screen(client, screens):
    url = f"/screens/{screens['signup-v4.png'].screen}/file/"
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(user_with_role("rex", "external reviewer"))
    assert client.get(url).status_code == 404
    assert "Screens accounts saw" not in client.get("/terms/sa/2026-01-01/").content.decode()
