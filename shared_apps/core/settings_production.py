"""Production hardening shared by both sites. Each site's ``settings/production.py``
star-imports its own base, then this module, then adds what is its own.

Every secret comes from the environment; a missing or weak one stops start-up with one
line naming the variable (``ConfigError``).
"""

from __future__ import annotations

from typing import Any

from shared_apps.core.config import ConfigError, env_bool, env_choice, env_int, env_list, env_str
from shared_apps.core.settings_common import DEV_AUTH_SERVICE_TOKEN, DEV_SECRET_KEY, logging_config

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ConfigError("DJANGO_SECRET_KEY must be a real secret of at least 50 characters")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")  # required in production
env_str("DATABASE_URL")  # required: production never falls back to SQLite
# The chat service's credential for the auth service's revocation feed (the same on both sides).
AUTH_SERVICE_TOKEN = env_str("AUTH_SERVICE_TOKEN").strip()
if AUTH_SERVICE_TOKEN == DEV_AUTH_SERVICE_TOKEN or len(AUTH_SERVICE_TOKEN.encode()) < 32:
    raise ConfigError("AUTH_SERVICE_TOKEN must be a real secret of at least 32 bytes (the same on both services)")
if AUTH_SERVICE_TOKEN == SECRET_KEY:
    raise ConfigError("AUTH_SERVICE_TOKEN must not be DJANGO_SECRET_KEY")

LOGGING = logging_config(env_choice("LOG_FORMAT", ("json", "console"), "json"))

# TLS ends at the ingress, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])


def database_pooled(database: dict[str, Any]) -> dict[str, Any]:
    """Bounded connections: a psycopg pool per process instead of a connection per thread
    (Django's pool needs CONN_MAX_AGE = 0). SQLite is returned unchanged."""
    if "postgresql" not in database["ENGINE"]:
        return database
    options = {
        **database.get("OPTIONS", {}),
        "pool": {"min_size": 1, "max_size": env_int("DB_POOL_MAX_SIZE", 10, minimum=1), "timeout": 10},
    }
    return {**database, "CONN_MAX_AGE": 0, "OPTIONS": options}
