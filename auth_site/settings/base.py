"""Settings of the auth service. Environment-specific modules import this one."""

from shared_apps.core.config import BASE_DIR, env_database, env_int, env_list, env_str
from shared_apps.core.settings_common import *  # noqa: F403
from shared_apps.core.settings_common import DEV_JWT_SIGNING_KEY, JWT_ALGORITHM, SPECTACULAR_SETTINGS

SITE_NAME = "auth"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_grpc_framework",
    "django_structlog",
    "django_prometheus",
    "shared_apps.core",
    "shared_apps.authn",
    "shared_apps.accounts",
]

MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware", *MIDDLEWARE]  # first: answers CORS preflights

ROOT_URLCONF = "auth_site.urls"
WSGI_APPLICATION = "auth_site.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
# Every password sign-in, the admin's login form included, passes the sign-in throttles.
AUTHENTICATION_BACKENDS = ["shared_apps.accounts.backends.SignInBackend"]

DATABASES = {"default": env_database("DATABASE_URL", BASE_DIR / "var" / "auth.sqlite3")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- keys: the auth service signs --------------------------------------------------------
from shared_apps.authn.keys import build_keyring  # noqa: E402

JWT_SIGNING_KEY = env_str("JWT_SIGNING_KEY", DEV_JWT_SIGNING_KEY)
JWT_VERIFYING_KEY = env_str("JWT_VERIFYING_KEY", "")
JWT_PREVIOUS_SIGNING_KEYS = env_list("JWT_PREVIOUS_SIGNING_KEYS", [])
JWT_KEYRING = build_keyring(
    algorithm=JWT_ALGORITHM,
    signing_key=JWT_SIGNING_KEY,
    verifying_keys_pem=JWT_VERIFYING_KEY,
    previous_secrets=JWT_PREVIOUS_SIGNING_KEYS,
)
# The auth site knows session state first-hand: its own database.
AUTHN_SESSION_STATE_CHECK = "shared_apps.accounts.selectors.session_is_active"

# --- sign-in throttling and hashing -------------------------------------------------------
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

# --- gRPC ---------------------------------------------------------------------------------
GRPC_FRAMEWORK = {"ROOT_HANDLERS_HOOK": "auth_site.grpc_handlers.grpc_handlers"}
GRPC_PUBLIC_METHODS = {
    "/auth.AuthService/SignUp",
    "/auth.AuthService/SignIn",
    "/auth.AuthService/RefreshToken",
    "/auth.AuthService/RevokeToken",
    "/auth.AuthService/ValidateToken",
    "/auth.AuthService/SignOut",
    "/auth.AuthService/ListRevokedSessions",
}
GRPC_MAX_WORKERS = env_int("GRPC_MAX_WORKERS", 16, minimum=1)
GRPC_GRACE_SECONDS = env_int("GRPC_GRACE_SECONDS", 20, minimum=0)

SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "TITLE": "Chat AI auth service"}
GRPC_DEFAULT_ADDRESS = env_str("GRPC_ADDRESS", "127.0.0.1:8080")
GRPC_SERVICE_NAMES = ["auth.AuthService"]


# --- CORS: the web chat page (served by the chat site at /app/) calls /v1/auth/* cross-origin ---
# Only those paths, only the listed origins, no cookies (the page sends bearer tokens).
INSTALLED_APPS = [*INSTALLED_APPS, "corsheaders"]
CORS_ALLOWED_ORIGINS = env_list("AUTH_CORS_ALLOWED_ORIGINS", ["http://127.0.0.1:8083", "http://localhost:8083"])
CORS_URLS_REGEX = r"^/v1/auth/.*$"
