"""Production settings of the auth service: its base, then the shared hardening (which must
override the base's development defaults, hence the import order), then its own checks."""
# ruff: noqa: I001, E402, F403

from .base import *
from .base import (
    DATABASES,
    DEV_JWT_SIGNING_KEY,
    JWT_KEYRING,
    JWT_PREVIOUS_SIGNING_KEYS,
    JWT_SIGNING_KEY,
    JWT_VERIFYING_KEY,
)

from shared_apps.core.settings_production import *
from shared_apps.core.settings_production import SECRET_KEY, database_pooled

from shared_apps.authn.keys import check_production_keys
from shared_apps.core.config import env_email, env_http_url, env_origins, env_str

env_str("JWT_SIGNING_KEY")  # the auth service signs: no development default in production
check_production_keys(
    JWT_KEYRING,
    signing_key=JWT_SIGNING_KEY,
    verifying_keys_pem=JWT_VERIFYING_KEY,
    previous_secrets=JWT_PREVIOUS_SIGNING_KEYS,
    dev_key=DEV_JWT_SIGNING_KEY,
    secret_key=SECRET_KEY,
)
# Required: the base's development origins must never be allowed in production.
CORS_ALLOWED_ORIGINS = env_origins("AUTH_CORS_ALLOWED_ORIGINS")
DATABASES = {"default": database_pooled(DATABASES["default"])}
# Required: links in emails must point at the real host, and emails must go to a real mail
# server (the development default prints them, links and all, to the log stream).
PUBLIC_AUTH_URL = env_http_url("PUBLIC_AUTH_URL")
globals().update(env_email("EMAIL_URL"))
