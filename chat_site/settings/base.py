"""Settings of the chat service. Environment-specific modules import this one."""

from shared_apps.core.config import (
    BASE_DIR,
    ConfigError,
    env_bool,
    env_choice,
    env_database,
    env_float,
    env_int,
    env_list,
    env_str,
)
from shared_apps.core.settings_common import *  # noqa: F403
from shared_apps.core.settings_common import DEV_JWT_SIGNING_KEY, JWT_ALGORITHM, REDIS_URL, SPECTACULAR_SETTINGS

SITE_NAME = "chat"

INSTALLED_APPS = [
    "daphne",  # its runserver speaks websockets in development
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "django_grpc_framework",
    "django_structlog",
    "django_prometheus",
    "shared_apps.core",
    "shared_apps.authn",
    "shared_apps.chat",
]

ROOT_URLCONF = "chat_site.urls"
ASGI_APPLICATION = "chat_site.asgi.application"
# The chat admin's staff accounts are local to the chat site (Django's own user model);
# platform users are known only by the id in their verified token. They sign in through the
# sign-in throttles and the bounded hashing queue, like the auth service's users.
AUTHENTICATION_BACKENDS = ["shared_apps.accounts.credentials.PasswordBackend"]

DATABASES = {"default": env_database("DATABASE_URL", BASE_DIR / "var" / "chat.sqlite3")}
# ASGI: connections are opened per unit of work (async_bridge.db) and closed after;
# nothing holds one for the length of a stream. Production adds a bounded psycopg pool.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- channel layer -------------------------------------------------------------------------
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "chatai", "capacity": 1000, "expiry": 60},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- tokens: the chat service only verifies -------------------------------------------------
from shared_apps.authn.keys import build_keyring  # noqa: E402

# HS256 verifies with the shared secret; RS256/EdDSA need only the public key(s).
JWT_SIGNING_KEY = env_str("JWT_SIGNING_KEY", DEV_JWT_SIGNING_KEY if JWT_ALGORITHM == "HS256" else "")
JWT_VERIFYING_KEY = env_str("JWT_VERIFYING_KEY", "")
JWT_PREVIOUS_SIGNING_KEYS = env_list("JWT_PREVIOUS_SIGNING_KEYS", [])
JWT_KEYRING = build_keyring(
    algorithm=JWT_ALGORITHM,
    signing_key=JWT_SIGNING_KEY,
    verifying_keys_pem=JWT_VERIFYING_KEY,
    previous_secrets=JWT_PREVIOUS_SIGNING_KEYS,
)
AUTHN_SESSION_STATE_CHECK = "shared_apps.authn.revocation.session_is_active"
AUTH_GRPC_TARGET = env_str("AUTH_GRPC_TARGET", "127.0.0.1:8080")
# How often each process asks the auth service for newly ended sessions, and how stale
# that knowledge may grow (auth service unreachable) before tokens are refused.
AUTHN_REVOCATION_POLL_SECONDS = env_float("AUTHN_REVOCATION_POLL_SECONDS", 0.25, minimum=0.01)
AUTHN_REVOCATION_MAX_STALENESS = env_float("AUTHN_REVOCATION_MAX_STALENESS", 30.0, minimum=1.0)
# API keys (Authorization: Bearer cak_...) are verified by the auth service (VerifyApiKey, with
# AUTH_SERVICE_TOKEN) and each answer is kept this long per process; a deleted key is refused
# within a second all the same (the revocation feed lists it).
AUTHN_API_KEY_VERIFY = "shared_apps.authn.api_keys.api_key_verify"
AUTHN_API_KEY_CACHE_SECONDS = env_float("AUTHN_API_KEY_CACHE_SECONDS", 60.0, minimum=1.0)

# --- model providers ----------------------------------------------------------------------------
# Providers by name: a dotted path to a class that takes no arguments and reads its own
# settings. CHAT_PROVIDER picks one; add a provider here to make it selectable.
CHAT_PROVIDERS = {
    "openai": "shared_apps.chat.providers.openai_provider.OpenAIProvider",  # any OpenAI-compatible API
    "local": "shared_apps.chat.providers.local.LocalProvider",  # offline, deterministic stand-in
}
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "")
CHAT_PROVIDER = env_choice(
    "CHAT_PROVIDER", tuple(CHAT_PROVIDERS), "openai" if (OPENAI_API_KEY or OPENAI_BASE_URL) else "local"
)
CHAT_MODEL = env_str("CHAT_MODEL", "gpt-4o-mini")
CHAT_ALLOWED_MODELS = env_list("CHAT_ALLOWED_MODELS", [CHAT_MODEL])
if CHAT_MODEL not in CHAT_ALLOWED_MODELS:
    raise ConfigError("CHAT_ALLOWED_MODELS must include CHAT_MODEL")
# The openai provider's own settings (read only by shared_apps.chat.providers.openai_provider).
OPENAI_CONNECT_TIMEOUT = env_float("OPENAI_CONNECT_TIMEOUT", 5.0, minimum=0.1)
OPENAI_FIRST_TOKEN_TIMEOUT = env_float("OPENAI_FIRST_TOKEN_TIMEOUT", 30.0, minimum=0.1)
OPENAI_IDLE_TIMEOUT = env_float("OPENAI_IDLE_TIMEOUT", 30.0, minimum=0.1)
OPENAI_MAX_RETRIES = env_int("OPENAI_MAX_RETRIES", 2, minimum=0)
# The SDK's HTTP transport: aiohttp (the SDK's DefaultAioHttpClient; its C parser reads a paced
# stream for about half the CPU per chunk) or httpx (the SDK's default).
OPENAI_HTTP_CLIENT = env_choice("OPENAI_HTTP_CLIENT", ("aiohttp", "httpx"), "aiohttp")
CHAT_SYSTEM_PROMPT = env_str("CHAT_SYSTEM_PROMPT", "")
# After an untitled conversation's first reply, ask the model for a short title.
CHAT_TITLES = env_bool("CHAT_TITLES", True)
CHAT_CONTEXT_TOKENS = env_int("CHAT_CONTEXT_TOKENS", 8000, minimum=256)
CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 32000, minimum=1)
CHAT_EXPORT_MAX_CHARS = env_int("CHAT_EXPORT_MAX_CHARS", 4_000_000, minimum=1)  # a conversation export, in memory
CHAT_MAX_OUTPUT_TOKENS = env_int("CHAT_MAX_OUTPUT_TOKENS", 4096, minimum=1)
CHAT_RATE_MESSAGES_PER_MINUTE = env_int("CHAT_RATE_MESSAGES_PER_MINUTE", 30, minimum=1)
CHAT_RATE_CONVERSATIONS_PER_MINUTE = env_int("CHAT_RATE_CONVERSATIONS_PER_MINUTE", 30, minimum=1)
CHAT_RATE_TOKENS_PER_DAY = env_int("CHAT_RATE_TOKENS_PER_DAY", 1_000_000, minimum=1)
# What one user can make the model cost: a reply's whole length in time (past it the reply ends
# as failed, upstream_timeout, with what arrived), and replies running at once per user in one
# process (0: no cap).
CHAT_REPLY_MAX_SECONDS = env_float("CHAT_REPLY_MAX_SECONDS", 300.0, minimum=1.0)
CHAT_MAX_REPLIES_IN_FLIGHT_PER_USER = env_int("CHAT_MAX_REPLIES_IN_FLIGHT_PER_USER", 4, minimum=0)
# A streaming reply's lease: its process renews it every third of this; a reply whose process
# died (kill -9) is closed as failed by any chat process once its lease has run out.
CHAT_REPLY_LEASE_SECONDS = env_float("CHAT_REPLY_LEASE_SECONDS", 30.0, minimum=1.0)
CHAT_LOCAL_DELAY_SECONDS = env_float("CHAT_LOCAL_DELAY_SECONDS", 0.03, minimum=0.0)

# --- websocket -----------------------------------------------------------------------------------
# A reader (socket or gRPC stream) whose oldest waiting delta has waited this long gets every
# waiting delta as one frame (seq = last, from_seq = first); with no backlog, one frame a delta.
CHAT_COALESCE_AFTER_SECONDS = env_float("CHAT_COALESCE_AFTER_SECONDS", 0.005, minimum=0.0)
CHAT_WS_ALLOWED_ORIGINS = env_list("CHAT_WS_ALLOWED_ORIGINS", ["http://127.0.0.1:8083", "http://localhost:8083"])
CHAT_WS_AUTH_TIMEOUT = env_float("CHAT_WS_AUTH_TIMEOUT", 10.0, minimum=0.1)
CHAT_WS_MAX_FRAME_BYTES = env_int("CHAT_WS_MAX_FRAME_BYTES", 64 * 1024, minimum=1024)
CHAT_WS_MAX_FORWARDERS = env_int("CHAT_WS_MAX_FORWARDERS", 8, minimum=1)  # replies one socket follows at once

# --- gRPC ------------------------------------------------------------------------------------------
GRPC_FRAMEWORK = {"ROOT_HANDLERS_HOOK": "chat_site.grpc_handlers.grpc_handlers"}
GRPC_PUBLIC_METHODS: set[str] = set()
GRPC_DEFAULT_ADDRESS = env_str("GRPC_ADDRESS", "127.0.0.1:8082")
GRPC_SERVICE_NAMES = ["chat.ChatService"]
# Each stream (StreamChatWithAI, StreamMessages) holds a worker thread for its length; at
# most GRPC_MAX_STREAMS run at once, so the remaining threads always serve unary calls and
# health checks. Threads here mostly wait, so many are cheap.
GRPC_MAX_WORKERS = env_int("GRPC_MAX_WORKERS", 256, minimum=2)
GRPC_MAX_STREAMS = env_int("GRPC_MAX_STREAMS", max(1, GRPC_MAX_WORKERS - 32), minimum=1)
if GRPC_MAX_STREAMS >= GRPC_MAX_WORKERS:
    raise ConfigError("GRPC_MAX_STREAMS must be below GRPC_MAX_WORKERS (threads must remain for other calls)")
# Open streams per user in one grpcserve process (0: no cap), so that one account cannot take
# every GRPC_MAX_STREAMS slot; and open websockets per user in one ASGI process.
GRPC_MAX_STREAMS_PER_USER = env_int("GRPC_MAX_STREAMS_PER_USER", 16, minimum=0)
CHAT_MAX_SOCKETS_PER_USER = env_int("CHAT_MAX_SOCKETS_PER_USER", 16, minimum=0)
CHAT_MAX_PENDING_SOCKETS_PER_ADDRESS = env_int("CHAT_MAX_PENDING_SOCKETS_PER_ADDRESS", 32, minimum=0)
GRPC_GRACE_SECONDS = env_int("GRPC_GRACE_SECONDS", 30, minimum=0)
GRPC_ON_START = "shared_apps.chat.lifecycle.grpc_process_start"

SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "Chat AI chat service"}
_ = env_bool  # re-exported for environment modules


GRPC_ON_STOP = "shared_apps.chat.reply_producer.replies_drain_sync"
# On shutdown, replies in flight get this long to finish before they are stored as cancelled.
CHAT_SHUTDOWN_GRACE_SECONDS = env_float("CHAT_SHUTDOWN_GRACE_SECONDS", 10.0, minimum=0.0)
# Threads that run ORM work for the event loop (replies, sockets); keep it at or below the
# production connection pool (DB_POOL_MAX_SIZE) so no thread waits for a connection.
CHAT_DB_THREADS = env_int("CHAT_DB_THREADS", 10, minimum=1)

# --- web chat page (/app/, shared_apps.chat.web) ------------------------------------------------
# The auth service's base URL as the browser reaches it: the page signs in there (cross-origin;
# the auth site allows this site's origin with AUTH_CORS_ALLOWED_ORIGINS).
CHAT_AUTH_PUBLIC_URL = env_str("CHAT_AUTH_PUBLIC_URL", "http://127.0.0.1:8081").rstrip("/")
