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
