"""Production settings: every secret from the environment, hardened transport."""

from shared_apps.core.config import ConfigError, env_bool, env_choice, env_int, env_str

from .base import *  # noqa: F403
from .base import DATABASES, DEV_JWT_SIGNING_KEY, DEV_SECRET_KEY, JWT_KEYRING, logging_config

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ConfigError("DJANGO_SECRET_KEY must be a real secret of at least 50 characters")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")  # noqa: F405
env_str("DATABASE_URL")  # required: production never falls back to SQLite
CHAT_WS_ALLOWED_ORIGINS = env_list("CHAT_WS_ALLOWED_ORIGINS")  # noqa: F405 - required
if JWT_KEYRING.algorithm == "HS256":
    from shared_apps.authn.keys import check_production_signing_key

    env_str("JWT_SIGNING_KEY")
    check_production_signing_key(JWT_KEYRING, dev_key=DEV_JWT_SIGNING_KEY, secret_key=SECRET_KEY)

LOGGING = logging_config(env_choice("LOG_FORMAT", ("json", "console"), "json"))

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])  # noqa: F405

if "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DB_POOL_MAX_SIZE", 10, minimum=1),
        "timeout": 10,
    }
