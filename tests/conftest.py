"""Shared fixtures, and the rule that services a test needs are present in CI.

Locally a test marked `redis` or `browser` is skipped with the reason when the service is
missing; with PACTA_REQUIRE_SERVICES=1 (as `.ci/run` sets) the same absence is a failure,
so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

from tests.factories import user_with_role

REQUIRE_SERVICES = os.environ.get("PACTA_REQUIRE_SERVICES") == "1"


def _redis_unavailable() -> str | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return f"CELERY_BROKER_URL is not a Redis URL ({url.split(':')[0]}://)"
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 2):
            return None
    except OSError as exc:
        return f"Redis at {parsed.hostname}:{parsed.port or 6379} is unreachable: {exc}"


def _browser_unavailable() -> str | None:
    if not shutil.which("chromium") and not os.path.exists("/usr/bin/chromium"):
        return "Debian's chromium is not installed (/usr/bin/chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed"
    return None


SERVICE_CHECKS = {"redis": _redis_unavailable, "browser": _browser_unavailable}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, check in SERVICE_CHECKS.items():
        if item.get_closest_marker(marker) is None:
            continue
        reason = check()
        if reason is None:
            continue
        if REQUIRE_SERVICES:
            pytest.fail(f"required service missing (PACTA_REQUIRE_SERVICES=1): {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Let Django empty the test database between transactional tests.

    The ledger refuses TRUNCATE unless the database's `pacta.allow_truncate` is on; only
    the throwaway test database gets that setting.
    """
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        name = connection.settings_dict["NAME"]
        cursor.execute(f"ALTER DATABASE \"{name}\" SET pacta.allow_truncate = 'on'")
        cursor.execute("SET pacta.allow_truncate = 'on'")


@pytest.fixture
def media_root(tmp_path, settings):
    """Evidence files for one test in a folder of its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def counsel_user(db):
    return user_with_role("alice", "counsel")


@pytest.fixture(scope="session")
def pki():
    """The throwaway test PKI (root CA, timestamp authority, document signer)."""
    from tests.pki import build_pki

    return build_pki()


@pytest.fixture
def signing(settings, tmp_path, pki):
    """The organisation's signing certificate (the test PKI) in settings, as production
    configures it: PEM files named by PACTA_SIGNING_CERT / PACTA_SIGNING_KEY."""
    folder = tmp_path / "pki"
    folder.mkdir()
    (folder / "signer.pem").write_bytes(pki.signer.cert_pem)
    (folder / "signer-key.pem").write_bytes(pki.signer.key_pem)
    (folder / "root.pem").write_bytes(pki.root.cert_pem)
    settings.PACTA_SIGNING_CERT = str(folder / "signer.pem")
    settings.PACTA_SIGNING_KEY = str(folder / "signer-key.pem")
    settings.PACTA_SIGNING_CHAIN = [str(folder / "root.pem")]
    settings.PACTA_SIGNING_TRUST_ROOTS = [str(folder / "root.pem")]
    settings.PACTA_TSA_URL = ""
    settings.PACTA_REPORT_ORGANISATION = "Aster Systems, Inc."
    settings.PACTA_REPORT_WORK_DIR = str(tmp_path / "work")
    return folder
