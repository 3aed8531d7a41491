"""The project as an operator meets it: settings, migrations, production hardening, Celery."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from casework.config.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={k: v for k, v in env.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _production_env(**overrides: str | None) -> dict[str, str | None]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="casework.config.settings_production",
        SECRET_KEY="k" + "x7Qp2vLm9ZrT4sWb8NcYh3FjKd6GaUe1" * 2,
        ALLOWED_HOSTS="pacta.example.com",
        DATABASE_URL="postgres://pacta@db.example.invalid:5432/pacta",
    )
    env.update(overrides)
    return env


@pytest.mark.django_db
def test_models_and_migrations_agree():
    # `--check` exits with status 1 (SystemExit) when a model change has no migration.
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit as exc:
        pytest.fail(f"models and migrations disagree (makemigrations exited {exc.code})")
    assert "No changes detected" in out.getvalue()


def test_production_settings_pass_deploy_checks():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "django-insecure-" + "a1" * 30}, "SECRET_KEY must be set"),
        ({"DATABASE_URL": None}, "DATABASE_URL must name the production PostgreSQL"),
        ({"DATABASE_URL": "sqlite:///pacta.db"}, "must name a PostgreSQL database"),
    ],
)
def test_production_refuses_to_start_unsafely(overrides, message):
    result = _manage("check", env=_production_env(**overrides))
    assert result.returncode != 0
    assert message in result.stderr


def test_only_postgresql_is_configured():
    engine = settings.DATABASES["default"]["ENGINE"]
    assert engine in {"django.db.backends.postgresql", "casework.config.embedded_db"}


def test_celery_is_wired_for_long_idempotent_jobs():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"


def _run_ledger_check_through_a_worker() -> None:
    from celery.contrib.testing.worker import start_worker

    from evidence.models import LedgerEntry
    from evidence.tasks import ledger_check_task

    with start_worker(celery_app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
        ledger_check_task.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if LedgerEntry.objects.filter(action="verified", actor="system:verifier").exists():
                break
            time.sleep(0.2)
    entry = LedgerEntry.objects.get(action="verified", actor="system:verifier")
    assert entry.details["ok"] is True


def _broker_connections_drop() -> None:
    """Forget the app's pooled broker connections, as Celery does after a fork.

    Tests that request reports publish through the configured broker, and the pooled
    producer keeps that connection: without this, a task sent after the broker setting
    changed would still go to the old broker, where no worker of this test listens. The
    pools themselves are left open: kombu keeps them by broker, and the next test that uses
    the old broker gets the same pool back."""
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_worker_runs_a_task_through_the_filesystem_broker(tmp_path):
    queue = tmp_path / "broker"
    queue.mkdir()
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    _broker_connections_drop()
    celery_app.conf.broker_url = "filesystem://"
    celery_app.conf.broker_transport_options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(tmp_path / "control"),
        "store_processed": False,
    }
    try:
        _run_ledger_check_through_a_worker()
    finally:
        _broker_connections_drop()
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_worker_runs_a_task_through_redis():
    assert celery_app.conf.broker_url.startswith("redis")
    _run_ledger_check_through_a_worker()


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_size_setting_that_is_not_positive_stops_start_up_naming_it(value):
    result = _manage("check", env={**os.environ, "PACTA_UPLOAD_CHUNK_BYTES": value})
    assert result.returncode != 0
    assert "PACTA_UPLOAD_CHUNK_BYTES must be a positive number of bytes" in result.stderr
