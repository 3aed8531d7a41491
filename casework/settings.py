"""Pacta settings, read from the environment (django-environ).

Defaults are for a developer's machine and `make demo`: an embedded PostgreSQL in
`var/pgdata` and Celery's filesystem broker in `var/broker`, so nothing needs installing.
Production runs `casework.settings_production`, which refuses to start without a real
secret key and a real database.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("PACTA_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _development_secret_key() -> str:
    """A per-checkout random key kept in var/ (never in the repository)."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _development_secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "evidence",
    "casework",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "casework.urls"
WSGI_APPLICATION = "casework.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "casework.context_processors.verification_alert",
            ],
        },
    },
]

# --- Database: PostgreSQL only -------------------------------------------------------------
# The embedded database's name; benchmarks use their own ("pacta_bench").
PACTA_DATABASE_NAME = env.str("PACTA_DATABASE_NAME", default="pacta")
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "DATABASE_URL must name a PostgreSQL database (postgres://...); "
            "Pacta's evidence integrity relies on PostgreSQL and has no other backend."
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "casework.embedded_db",
            "NAME": PACTA_DATABASE_NAME,
            "OPTIONS": {"pgdata": str(VAR_DIR / "pgdata")},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", 0)
DATABASES["default"].setdefault("TEST", {})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# Evidence timestamps are stored and shown in UTC: a court compares them across systems.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = Path(env.str("PACTA_MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"  # evidence files are only served through audited views

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- REST API (/api/v1/): machine tokens with scopes, throttled, one error shape --------
REST_FRAMEWORK = {
    # Token first: its "Bearer" challenge makes missing credentials a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "casework.api_auth.ScopedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "casework.api_auth.ScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "casework.api_auth.TokenRateThrottle",
        "casework.api_auth.EndpointRateThrottle",
    ],
    # Counted in the default cache (per process with LocMem; share a cache such as Redis
    # when several web processes must share one budget).
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("PACTA_API_TOKEN_RATE", default="600/min"),
        "ingest": env.str("PACTA_API_INGEST_RATE", default="60/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # `?format=` belongs to the ingest endpoint (native|csv|litellm|bedrock), not to DRF's
    # renderer override: the API answers JSON only.
    "URL_FORMAT_OVERRIDE": None,
    "EXCEPTION_HANDLER": "casework.api_errors.api_exception_handler",
}

# --- Celery: long, idempotent jobs ------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
# A report or a detection run may take minutes: acknowledge only when done, so a worker
# lost mid-job hands the job back to the queue instead of dropping it.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=3600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=3300)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int(
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=1_500_000
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Jobs keep their own state in the database (e.g. ReportJob); no result backend is needed.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Periodic custody work (run `celery -A casework beat` beside the workers).
CELERY_BEAT_SCHEDULE = {
    "verify-evidence": {
        "task": "evidence.tasks.evidence_verify_task",
        "schedule": crontab(minute=0, hour=env.int("PACTA_VERIFY_HOUR_UTC", default=2)),
    },
    "timestamp-ledger": {
        "task": "evidence.tasks.ledger_timestamp_task",
        "schedule": crontab(minute=30, hour=env.int("PACTA_TIMESTAMP_HOUR_UTC", default=0)),
    },
    "retention-purge": {
        "task": "evidence.tasks.retention_purge_task",
        "schedule": crontab(minute=0, hour=env.int("PACTA_RETENTION_HOUR_UTC", default=3)),
    },
}

# --- Pacta -----------------------------------------------------------------------------
# Demo mode (`seed_demo`) is the only mode that creates default users.
PACTA_DEMO = env.bool("PACTA_DEMO", default=False)
# Store full prompt text only where the deployment's privacy review allows it.
PACTA_STORE_FULL_PROMPTS = env.bool("PACTA_STORE_FULL_PROMPTS", default=False)
# Processes that parse and validate usage NDJSON beside the one that streams it into COPY.
PACTA_INGEST_WORKERS = env.int("PACTA_INGEST_WORKERS", default=2)
# Raw usage events older than this many days are purged (privacy); 0 keeps them forever.
# Material under a legal hold is never purged.
PACTA_USAGE_RETENTION_DAYS = env.int("PACTA_USAGE_RETENTION_DAYS", default=0)
# RFC 3161 timestamp authority for the daily ledger-head timestamp; empty turns it off.
PACTA_TSA_URL = env.str("PACTA_TSA_URL", default="")
PACTA_TSA_TIMEOUT = env.int("PACTA_TSA_TIMEOUT", default=10)
# A longer line is rejected (and reported) rather than read into memory.
PACTA_INGEST_MAX_LINE_BYTES = env.int("PACTA_INGEST_MAX_LINE_BYTES", default=1024 * 1024)
# A larger upload through the REST API is refused (413) while it streams to disk.
PACTA_INGEST_MAX_UPLOAD_BYTES = env.int("PACTA_INGEST_MAX_UPLOAD_BYTES", default=4 * 1024**3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
