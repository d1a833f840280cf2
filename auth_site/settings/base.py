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

# Sign-in throttling and password hashing: shared_apps/core/settings_common.py (both sites'
# admins sign in through them).

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
