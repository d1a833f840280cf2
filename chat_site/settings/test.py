"""Test settings: the database from DATABASE_URL (PostgreSQL in CI) or SQLite."""

from .base import *  # noqa: F403
from .base import logging_config

DEBUG = False
LOGGING = logging_config("console")
PASSWORD_HASHERS = ["shared_apps.core.testing.FastArgon2PasswordHasher"]
CHAT_LOCAL_DELAY_SECONDS = 0.0
