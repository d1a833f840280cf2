"""Settings of the auth service. Environment-specific modules import this one."""

from shared_apps.core.config import (
    BASE_DIR,
    env_bool,
    env_database,
    env_email,
    env_http_url,
    env_int,
    env_list,
    env_str,
)
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

# --- accounts: password, email, sessions -------------------------------------------------
# Email goes through Django's email framework: EMAIL_URL is smtp://host:port,
# smtp+tls://user:pass@host:587, smtps://... or consolemail:// (the development default: messages
# are printed to stdout). Production requires it (shared_apps/accounts/emails.py sends on a thread).
globals().update(env_email("EMAIL_URL", "consolemail://"))
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("EMAIL_FROM", "Chat AI <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The auth service as a person's browser reaches it: links in emails point here.
PUBLIC_AUTH_URL = env_http_url("PUBLIC_AUTH_URL", "http://127.0.0.1:8081")
# Seconds a password-reset link works (once); a verification link works this long.
PASSWORD_RESET_TTL = env_int("PASSWORD_RESET_TTL", 3600, minimum=60)
EMAIL_VERIFICATION_TTL = env_int("EMAIL_VERIFICATION_TTL", 3 * 24 * 3600, minimum=60)
# Sign-in (and refresh) of an account whose address is not verified answers 403 email_not_verified.
AUTH_REQUIRE_VERIFIED_EMAIL = env_bool("AUTH_REQUIRE_VERIFIED_EMAIL", False)
# Emails of one kind (password reset, verification) per window: per recipient account and per
# client address; past either the request answers 429 and nothing is sent.
ACCOUNT_EMAILS_PER_ACCOUNT = env_int("ACCOUNT_EMAILS_PER_ACCOUNT", 3, minimum=1)
ACCOUNT_EMAILS_PER_IP = env_int("ACCOUNT_EMAILS_PER_IP", 20, minimum=1)
ACCOUNT_EMAILS_WINDOW_SECONDS = env_int("ACCOUNT_EMAILS_WINDOW_SECONDS", 3600, minimum=1)

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
    # accounts: password, email, sessions
    "/auth.AuthService/RequestPasswordReset",
    "/auth.AuthService/ConfirmPasswordReset",
    "/auth.AuthService/VerifyEmail",
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


# --- accounts: two-factor, API keys -------------------------------------------------------------
# TOTP secrets are encrypted at rest with Fernet (shared_apps/accounts/secret_box.py) under a key
# derived from MFA_ENCRYPTION_KEY (any long random string; several, comma-separated, while
# rotating: the first encrypts, all decrypt), else from DJANGO_SECRET_KEY.
MFA_ENCRYPTION_KEYS = env_list("MFA_ENCRYPTION_KEY", [])
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Chat AI")
# The mfa_token of a sign-in waiting for its second factor: its lifetime, and the wrong codes it
# survives (then it is spent and the password must be given again).
MFA_TOKEN_TTL_SECONDS = env_int("MFA_TOKEN_TTL_SECONDS", 300, minimum=30)
MFA_MAX_ATTEMPTS_PER_TOKEN = env_int("MFA_MAX_ATTEMPTS_PER_TOKEN", 5, minimum=1)
# Wrong codes (and wrong passwords to turn two-factor off) per account within the window; past
# them the account's second step answers 429 until the window ends.
MFA_MAX_FAILURES_PER_ACCOUNT = env_int("MFA_MAX_FAILURES_PER_ACCOUNT", 10, minimum=1)
MFA_FAILURE_WINDOW_SECONDS = env_int("MFA_FAILURE_WINDOW_SECONDS", 900, minimum=1)
GRPC_PUBLIC_METHODS = {
    *GRPC_PUBLIC_METHODS,
    "/auth.AuthService/SignInMfa",
    "/auth.AuthService/VerifyApiKey",  # answers only AUTH_SERVICE_TOKEN (service_caller_require)
}
