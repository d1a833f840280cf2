"""Settings shared by both sites. Each site's ``settings/base.py`` star-imports this
module and adds what is its own (apps, URLs, database file, gRPC handlers).

Everything that varies between environments is read from the environment.
"""

from __future__ import annotations

from datetime import timedelta

from shared_apps.core.config import (
    BASE_DIR,
    env_choice,
    env_int,
    env_list,
    env_networks,
    env_redis_url,
    env_str,
)

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789abcdef0123456789"
DEV_JWT_SIGNING_KEY = "dev-insecure-jwt-signing-key-change-me-0123456789abcdef"
DEV_AUTH_SERVICE_TOKEN = "dev-insecure-auth-service-token-change-me-0123456789"

SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

# Proxies (IPs or CIDR networks) whose X-Forwarded-For is believed; from anyone else the socket
# peer is the client (shared_apps/core/client_ip.py). The gunicorn configs give the same list to
# gunicorn and uvicorn (forwarded_allow_ips). Empty: trust no forwarding header.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", [])
# ipware's default (used by django-structlog's request logging) reads the socket peer only.
IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)

VAR_DIR = BASE_DIR / "var"

USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"

# Bodies larger than this are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("HTTP_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)

PASSWORD_HASHERS = [
    # Argon2id first (OWASP's first choice); the others only verify old hashes.
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- sign-in throttling and hashing (auth APIs, both admins) ---------------------------
# Failures within the window (shared_apps/accounts/throttle.py): one account from one address
# (that address is then locked out of that account), one address over all accounts (locked out).
SIGNIN_MAX_FAILURES_PER_ACCOUNT = env_int("SIGNIN_MAX_FAILURES_PER_ACCOUNT", 5, minimum=1)
SIGNIN_MAX_FAILURES_PER_IP = env_int("SIGNIN_MAX_FAILURES_PER_IP", 30, minimum=1)
SIGNIN_FAILURE_WINDOW_SECONDS = env_int("SIGNIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
# One account from all addresses: past this many failures it is slowed, never locked: one attempt
# per SIGNIN_ACCOUNT_SLOW_SECONDS from addresses that have not signed in to it within
# SIGNIN_KNOWN_ADDRESS_DAYS; its owner's known addresses are not slowed.
SIGNIN_ACCOUNT_SLOW_AFTER = env_int("SIGNIN_ACCOUNT_SLOW_AFTER", 10, minimum=1)
SIGNIN_ACCOUNT_SLOW_SECONDS = env_int("SIGNIN_ACCOUNT_SLOW_SECONDS", 2, minimum=1)
SIGNIN_KNOWN_ADDRESS_DAYS = env_int("SIGNIN_KNOWN_ADDRESS_DAYS", 30, minimum=0)
# Sign-ups from one client address within the window (each account has its own chat allowances).
SIGNUP_MAX_PER_ADDRESS = env_int("SIGNUP_MAX_PER_ADDRESS", 20, minimum=1)
SIGNUP_WINDOW_SECONDS = env_int("SIGNUP_WINDOW_SECONDS", 3600, minimum=1)
# At most this many Argon2 hashes run at once per process (each takes ~100 MiB and a core).
PASSWORD_HASH_CONCURRENCY = env_int("PASSWORD_HASH_CONCURRENCY", 2, minimum=1)
# Beyond the running hashes, this many callers may wait; more are told to retry (429).
PASSWORD_HASH_MAX_WAITING = env_int("PASSWORD_HASH_MAX_WAITING", 2, minimum=0)
# Admission before that queue: hashes (running or waiting) at once for one client address and
# for one account; a flood from one address or at one account cannot take the whole capacity.
PASSWORD_HASH_MAX_PER_ADDRESS = env_int("PASSWORD_HASH_MAX_PER_ADDRESS", 1, minimum=1)
PASSWORD_HASH_MAX_PER_ACCOUNT = env_int("PASSWORD_HASH_MAX_PER_ACCOUNT", 1, minimum=1)
# Hashing threads run at this nice level (0-19), so cheap requests get the CPU first.
PASSWORD_HASH_NICE = env_int("PASSWORD_HASH_NICE", 10, minimum=0)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Both sites' middleware; a site may add its own around it (the auth site puts CORS first).
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # admin and docs assets under gunicorn/uvicorn
    "shared_apps.core.middleware.UpstreamIdsCheckMiddleware",  # before django-structlog logs the ids
    "django_structlog.middlewares.RequestMiddleware",
    "shared_apps.core.middleware.RequestIdResponseMiddleware",
    "shared_apps.core.middleware.JsonNotFoundMiddleware",  # unknown paths: JSON 404 with DEBUG on too
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# gRPC calls are counted and timed per method; see grpc_server/server.py.
GRPC_EXTRA_INTERCEPTORS = ["shared_apps.core.grpc_server.metrics.MetricsInterceptor"]

# --- cache (also the store for rate-limit counters) -------------------------------
REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["shared_apps.authn.rest.AccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["shared_apps.core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "shared_apps.core.rest_errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

# --- tokens ----------------------------------------------------------------
JWT_ALGORITHM = env_choice("JWT_ALGORITHM", ("HS256", "RS256", "EdDSA"), "HS256")
JWT_ISSUER = env_str("JWT_ISSUER", "chat-ai-auth")
JWT_AUDIENCE = env_str("JWT_AUDIENCE", "chat-ai")
JWT_ACCESS_TTL = timedelta(seconds=env_int("JWT_ACCESS_TTL", 15 * 60, minimum=10))
JWT_REFRESH_TTL = timedelta(seconds=env_int("JWT_REFRESH_TTL", 7 * 24 * 3600, minimum=60))
JWT_LEEWAY_SECONDS = env_int("JWT_LEEWAY_SECONDS", 0, minimum=0)

SIMPLE_JWT = {
    "ALGORITHM": JWT_ALGORITHM,
    "ACCESS_TOKEN_LIFETIME": JWT_ACCESS_TTL,
    "REFRESH_TOKEN_LIFETIME": JWT_REFRESH_TTL,
    "AUDIENCE": JWT_AUDIENCE,
    "ISSUER": JWT_ISSUER,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "TOKEN_TYPE_CLAIM": "typ",
    "JTI_CLAIM": "jti",
    "LEEWAY": JWT_LEEWAY_SECONDS,
    "UPDATE_LAST_LOGIN": False,
}

# --- service credential ------------------------------------------------------
# The chat service's credential at the auth service: its revocation-feed client sends it as
# gRPC metadata and the auth service's ListRevokedSessions compares it in constant time. The
# same secret on both sides; required (32+ bytes, not this default) in production.
AUTH_SERVICE_TOKEN = env_str("AUTH_SERVICE_TOKEN", DEV_AUTH_SERVICE_TOKEN).strip()

# --- logging ---------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO")
DJANGO_STRUCTLOG_CELERY_ENABLED = False
# Take the caller's X-Request-ID; RequestIdResponseMiddleware replaces a malformed one.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
DJANGO_STRUCTLOG_STATUS_4XX_LOG_LEVEL = 20  # INFO: a client's mistake is not our warning


def logging_config(log_format: str) -> dict:
    from shared_apps.core.logging import build_logging_config

    return build_logging_config(log_format=log_format, level=LOG_LEVEL)


# --- metrics -------------------------------------------------------------------
# Port of the Prometheus endpoint of a ``grpcserve`` process; 0 (the default) serves none.
# The HTTP apps serve theirs at /metrics on their own port (django-prometheus).
GRPC_METRICS_PORT = env_int("GRPC_METRICS_PORT", 0, minimum=0)
