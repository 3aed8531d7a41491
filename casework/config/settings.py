"""Pacta settings, read from the environment (django-environ).

Defaults are for a developer's machine and `make demo`: an embedded PostgreSQL in
`var/pgdata` and Celery's filesystem broker in `var/broker`, so nothing needs installing.
Production runs `casework.config.settings_production`, which refuses to start without a real
secret key and a real database.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

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
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served locally: /api/docs/ works offline
    "axes",  # sign-in throttling (its attempts live in the database: every process sees them)
    "csp",
    "evidence",
    "casework",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "casework.config.urls"
WSGI_APPLICATION = "casework.config.wsgi.application"

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
            "ENGINE": "casework.config.embedded_db",
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
# django-axes first: it refuses a locked-out sign-in before any password is checked.
# It watches only Django's `authenticate()` (the sign-in form and the admin's); API tokens
# are not passwords and never pass through it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
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
# Flash messages live in the session, so they end with it (a cookie would outlive sign-out
# and show one user's "case opened" to the next person at the same browser).
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Sign-in throttling (django-axes) ---------------------------------------------------
# A username is locked for one address after this many failed passwords, for the cool-off
# (each further attempt while locked restarts it). Keyed on username and address together,
# so a guesser elsewhere cannot lock a colleague out of their own desk.
AXES_FAILURE_LIMIT = env.int("PACTA_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("PACTA_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# --- Content-Security-Policy (django-csp) on every response -----------------------------
# Only the app's own scripts, styles and images; no inline script or style, no plugins, no
# framing, forms post only here. A page that needs an inline block names it by the
# request's nonce, granted by that view alone (the API docs page, casework.api.DocsView).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# --- REST API (/api/v1/): machine tokens with scopes, throttled, one error shape --------
REST_FRAMEWORK = {
    # Token first: its "Bearer" challenge makes missing credentials a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "casework.api_platform.auth.ScopedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "casework.api_platform.auth.ScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "casework.api_platform.auth.TokenRateThrottle",
        "casework.api_platform.auth.EndpointRateThrottle",
    ],
    # Counted in the default cache (per process with LocMem; share a cache such as Redis
    # when several web processes must share one budget).
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("PACTA_API_TOKEN_RATE", default="600/min"),
        "ingest": env.str("PACTA_API_INGEST_RATE", default="60/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies only (ingest streams its own body): one request format to document.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # `?format=` belongs to the ingest endpoint (native|csv|litellm|bedrock), not to DRF's
    # renderer override: the API answers JSON only.
    "URL_FORMAT_OVERRIDE": None,
    "EXCEPTION_HANDLER": "casework.api_platform.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# OpenAPI 3 schema at /api/schema/, Swagger UI at /api/docs/ (assets from the sidecar app,
# never a CDN: the deployment may have no internet).
SPECTACULAR_SETTINGS = {
    "TITLE": "Pacta API",
    "DESCRIPTION": (
        "Evidence and casework. Machines send `Authorization: Bearer pacta_...` tokens with "
        "scopes `ingest`, `read` (GET) and `write` (POST); people use their session. Access "
        "is the web UI's: cases only to their members, the record only to internal roles. "
        'Every error is `{"error": {"status", "code", "message", "fields"?}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "BatchStatusEnum": "evidence.models.IngestBatch.Status",
        "CaseStatusEnum": "casework.models.Case.Status",
        "ClauseCategoryEnum": "evidence.models.ClauseCategory",
        # Ingest jobs and detection runs share the one set: queued, running, finished, failed.
        "WorkStatusEnum": "evidence.models.IngestJob.Status",
        "RecordKindEnum": "evidence.models.IngestBatch.Kind",
        "ReportJobStatusEnum": "casework.models.ReportJob.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # Each operation names the token scope it needs.
        "casework.api_platform.schema.schema_scope_notes",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery: long, idempotent jobs ------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    # The filesystem transport expects its folders to exist before the first message.
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
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
    # Production zips past PACTA_PRODUCTION_RETENTION_DAYS are removed (manifests kept).
    "production-zips-expire": {
        "task": "casework.tasks.production_zips_expire_task",
        "schedule": crontab(minute=30, hour=env.int("PACTA_RETENTION_HOUR_UTC", default=3)),
    },
    # Case owners are reminded of the cure periods and answer dates their notices set.
    "notice-deadlines": {
        "task": "casework.countermeasures.tasks.notice_deadlines_remind_task",
        "schedule": crontab(minute=15),
    },
}

# --- Pacta -----------------------------------------------------------------------------
# Demo mode (`seed_demo`) is the only mode that creates default users.
PACTA_DEMO = env.bool("PACTA_DEMO", default=False)
# Store full prompt text only where the deployment's privacy review allows it.
PACTA_STORE_FULL_PROMPTS = env.bool("PACTA_STORE_FULL_PROMPTS", default=False)
# Processes that parse and validate usage NDJSON beside the one that streams it into COPY.
PACTA_INGEST_WORKERS = env.int("PACTA_INGEST_WORKERS", default=2)
# Keep a byte-exact copy of every ingested file as evidence (kind "raw_upload"), so a
# report can produce the native file, or excerpts of it, that its FRE 902(14) hashes cover.
# Off only where the provider's own archive keeps the files (the report then lists them).
PACTA_INGEST_KEEP_NATIVE = env.bool("PACTA_INGEST_KEEP_NATIVE", default=True)
# A report attaches a kept native file whole up to this size, and beyond it the lines that
# name an account of the case, with their byte offsets (counsel's edition only).
PACTA_REPORT_NATIVE_WHOLE_MAX_BYTES = env.int(
    "PACTA_REPORT_NATIVE_WHOLE_MAX_BYTES", default=32 * 1024**2
)
# Raw usage events older than this many days are purged (privacy); 0 keeps them forever.
# Material under a legal hold is never purged.
PACTA_USAGE_RETENTION_DAYS = env.int("PACTA_USAGE_RETENTION_DAYS", default=0)
# Production zips (MEDIA_ROOT/productions/) are removed this many days after they were
# built (`expire_productions`, daily beat task); the job keeps the manifest and the ledger
# every entry. 0 keeps them forever. A case on legal hold keeps its zips.
PACTA_PRODUCTION_RETENTION_DAYS = env.int("PACTA_PRODUCTION_RETENTION_DAYS", default=90)
# RFC 3161 timestamp authority for the daily ledger-head timestamp; empty turns it off.
PACTA_TSA_URL = env.str("PACTA_TSA_URL", default="")
PACTA_TSA_TIMEOUT = env.int("PACTA_TSA_TIMEOUT", default=10)
# Who owns cases opened from the command line when `open_case --owner` is not given.
PACTA_CASE_OWNER = env.str("PACTA_CASE_OWNER", default="")
# Countries the provider does not serve (ISO codes); traffic from them is a routing signal.
PACTA_UNSUPPORTED_COUNTRIES = env.list("PACTA_UNSUPPORTED_COUNTRIES", default=[])
# Draws of the synchronised-activity null model per pair: its smallest p-value is 1/(K+1).
PACTA_SYNC_NULL_DRAWS = env.int("PACTA_SYNC_NULL_DRAWS", default=9_999)
# The provider's model and company names, as a rival's answers would claim them
# ("Claude,Anthropic"): what `probe_claims` looks for in probe transcripts.
PACTA_PROVIDER_NAMES = env.list("PACTA_PROVIDER_NAMES", default=[])
# A longer line is rejected (and reported) rather than read into memory.
PACTA_INGEST_MAX_LINE_BYTES = env.int("PACTA_INGEST_MAX_LINE_BYTES", default=1024 * 1024)
# A compressed file that expands past this many bytes is refused whole while it streams
# (a decompression bomb is also refused by its compression ratio, IngestTuning).
PACTA_INGEST_MAX_EXPANDED_BYTES = env.int("PACTA_INGEST_MAX_EXPANDED_BYTES", default=8 * 1024**3)
# A larger upload through the REST API is refused (413) while it streams to disk.
PACTA_INGEST_MAX_UPLOAD_BYTES = env.int("PACTA_INGEST_MAX_UPLOAD_BYTES", default=4 * 1024**3)
# A screenshot or archived sign-up flow larger than this is refused (evidence/screens.py):
# a screen is a few megabytes; anything far larger is not what it claims to be.
PACTA_ASSENT_SCREEN_MAX_BYTES = env.int("PACTA_ASSENT_SCREEN_MAX_BYTES", default=25 * 1024**2)
# How much of an upload is read into memory at a time while it streams to disk.
PACTA_UPLOAD_CHUNK_BYTES = env.int("PACTA_UPLOAD_CHUNK_BYTES", default=1024 * 1024)
for _name in (
    "PACTA_INGEST_MAX_LINE_BYTES",
    "PACTA_INGEST_MAX_EXPANDED_BYTES",
    "PACTA_INGEST_MAX_UPLOAD_BYTES",
    "PACTA_ASSENT_SCREEN_MAX_BYTES",
    "PACTA_UPLOAD_CHUNK_BYTES",
):
    # Zero or a negative size would refuse every line, or read an upload forever: say so at
    # start-up, naming the variable, rather than fail on the first file.
    if globals()[_name] <= 0:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{_name} must be a positive number of bytes.")

# --- Reports (casework.reports): signed PDF/A-3b in three editions ----------------------
# The organisation's signing certificate and key (PEM paths); PACTA_SIGNING_CHAIN lists
# intermediates to embed. PACTA_TSA_URL above, when set, makes the signature PAdES B-T.
# `manage.py demo_certificate` writes a clearly labelled DEMO pair under var/signing/.
PACTA_SIGNING_CERT = env.str("PACTA_SIGNING_CERT", default="")
PACTA_SIGNING_KEY = env.str("PACTA_SIGNING_KEY", default="")
PACTA_SIGNING_KEY_PASSPHRASE = env.str("PACTA_SIGNING_KEY_PASSPHRASE", default="")
PACTA_SIGNING_CHAIN = env.list("PACTA_SIGNING_CHAIN", default=[])
# Roots `verify_report` trusts (PEM paths); empty: the signing chain and certificate, and
# without those the DEMO root in PACTA_SIGNING_DEMO_DIR, if `demo_certificate` wrote one.
PACTA_SIGNING_TRUST_ROOTS = env.list("PACTA_SIGNING_TRUST_ROOTS", default=[])
PACTA_SIGNING_DEMO_DIR = VAR_DIR / "signing"
PACTA_REPORT_ORGANISATION = env.str("PACTA_REPORT_ORGANISATION", default="")
PACTA_REPORT_SIGNING_LOCATION = env.str("PACTA_REPORT_SIGNING_LOCATION", default="")
# The custodian who makes the FRE 902(11)/(13)/(14) declaration: a draft prints blank lines
# for what is unset, a final report refuses to build without all four.
PACTA_REPORT_DECLARANT_NAME = env.str("PACTA_REPORT_DECLARANT_NAME", default="")
PACTA_REPORT_DECLARANT_TITLE = env.str("PACTA_REPORT_DECLARANT_TITLE", default="")
PACTA_REPORT_DECLARANT_ORGANISATION = env.str(
    "PACTA_REPORT_DECLARANT_ORGANISATION", default=PACTA_REPORT_ORGANISATION
)
# Where the declaration is made ("Executed at ..."), as 28 U.S.C. § 1746 has it.
PACTA_REPORT_DECLARANT_PLACE = env.str("PACTA_REPORT_DECLARANT_PLACE", default="")
PACTA_REPORT_DECLARANT_ADDRESS = env.str("PACTA_REPORT_DECLARANT_ADDRESS", default="")
# A final report rests on a verification of the record that passed within this many hours;
# the build runs one when the latest is older (or failed).
PACTA_VERIFICATION_MAX_AGE_HOURS = env.int("PACTA_VERIFICATION_MAX_AGE_HOURS", default=24)
PACTA_REPORT_PAGE_SIZE = env.str("PACTA_REPORT_PAGE_SIZE", default="A4")  # or "Letter"
# Rows a summary table prints at most; every row is in the exhibits.
PACTA_REPORT_TABLE_ROWS = env.int("PACTA_REPORT_TABLE_ROWS", default=20)
# Exhibits larger than this are embedded by streaming rather than through WeasyPrint,
# which compresses its attachments itself, several times slower than the exhibit writers
# (18 MB of summary exhibits cost its render about 2.5 CPU-seconds on the bench case).
PACTA_REPORT_STREAM_ATTACHMENT_BYTES = env.int(
    "PACTA_REPORT_STREAM_ATTACHMENT_BYTES", default=64 * 1024
)
PACTA_REPORT_WORK_DIR = env.str("PACTA_REPORT_WORK_DIR", default="")
# Save the rendered HTML here too (benchmarks render it again with plain WeasyPrint).
PACTA_REPORT_KEEP_HTML = env.str("PACTA_REPORT_KEEP_HTML", default="")
PACTA_REPORT_SOFT_TIME_LIMIT = env.int("PACTA_REPORT_SOFT_TIME_LIMIT", default=900)
PACTA_REPORT_TIME_LIMIT = env.int("PACTA_REPORT_TIME_LIMIT", default=960)
PACTA_REPORT_MAX_MEMORY_MB = env.int("PACTA_REPORT_MAX_MEMORY_MB", default=1536)
PACTA_REPORT_MAX_RETRIES = env.int("PACTA_REPORT_MAX_RETRIES", default=5)

# Enforcement actions are handed to the provider's platform by a signed webhook: POSTed as
# JSON to this URL with an HMAC-SHA256 signature of the body under the secret (from the
# environment only, never in the repository) and an idempotency key; retried with backoff
# on 5xx and connection errors. Empty URL: actions leave by CSV export only.
PACTA_ENFORCEMENT_WEBHOOK_URL = env.str("PACTA_ENFORCEMENT_WEBHOOK_URL", default="")
PACTA_ENFORCEMENT_WEBHOOK_SECRET = env.str("PACTA_ENFORCEMENT_WEBHOOK_SECRET", default="")
PACTA_ENFORCEMENT_WEBHOOK_TIMEOUT = env.int("PACTA_ENFORCEMENT_WEBHOOK_TIMEOUT", default=10)
PACTA_ENFORCEMENT_WEBHOOK_MAX_RETRIES = env.int("PACTA_ENFORCEMENT_WEBHOOK_MAX_RETRIES", default=8)

# Notices to respondents (breach, termination, cease-and-desist, preservation) leave by
# email with their signed PDF. Without EMAIL_HOST they are written to the console, and the
# notice records that backend as the one it was handed to, so no letter is said to have
# left that did not.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="legal@pacta.invalid")
# A notice of breach gives this many days to cure unless told otherwise; a cease-and-desist
# or preservation letter this many days to answer; owners are reminded this many days ahead.
PACTA_NOTICE_CURE_DAYS = env.int("PACTA_NOTICE_CURE_DAYS", default=30)
PACTA_NOTICE_RESPONSE_DAYS = env.int("PACTA_NOTICE_RESPONSE_DAYS", default=14)
PACTA_NOTICE_REMINDER_DAYS = env.int("PACTA_NOTICE_REMINDER_DAYS", default=3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
