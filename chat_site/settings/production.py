"""Production settings of the chat service: its base, then the shared hardening (which must
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
from shared_apps.core.config import env_http_url, env_list, env_str

CHAT_WS_ALLOWED_ORIGINS = env_list("CHAT_WS_ALLOWED_ORIGINS")  # required: the public page origins
# Required: the web page must not send passwords to the development address of the auth service.
CHAT_AUTH_PUBLIC_URL = env_http_url("CHAT_AUTH_PUBLIC_URL")
if JWT_KEYRING.algorithm == "HS256":
    # HS256 verifies with the shared secret; RS256/EdDSA need only JWT_VERIFYING_KEY.
    env_str("JWT_SIGNING_KEY")
# Every slot, whatever the algorithm: a development key anywhere would verify forged tokens.
check_production_keys(
    JWT_KEYRING,
    signing_key=JWT_SIGNING_KEY,
    verifying_keys_pem=JWT_VERIFYING_KEY,
    previous_secrets=JWT_PREVIOUS_SIGNING_KEYS,
    dev_key=DEV_JWT_SIGNING_KEY,
    secret_key=SECRET_KEY,
)
DATABASES = {"default": database_pooled(DATABASES["default"])}
