"""Production settings: the defaults of `casework.config.settings`, hardened, and nothing embedded.

Refuses to start without a real secret key or a real database, because a guessable key
would let anyone forge sessions on a system that holds privileged case material.
"""

from django.core.exceptions import ImproperlyConfigured

from casework.config.settings import *  # noqa: F403
from casework.config.settings import env

SECRET_KEY = env.str("SECRET_KEY", default="")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters in production "
        "(for example: python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )
if not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured(
        "DATABASE_URL must name the production PostgreSQL server; "
        "the embedded database is for demos and tests only."
    )

DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# No DEMO identity in production: a report is trusted only on the roots configured.
PACTA_SIGNING_DEMO_DIR = None
