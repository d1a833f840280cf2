"""Test settings: the database from DATABASE_URL (PostgreSQL in CI) or SQLite; cheap hashing."""

from .base import *  # noqa: F403
from .base import logging_config

DEBUG = False
LOGGING = logging_config("console")
# Argon2 stays first (the algorithm under test) but with a small cost so the suite is quick.
PASSWORD_HASHERS = ["shared_apps.core.testing.FastArgon2PasswordHasher"]
PASSWORD_HASH_CONCURRENCY = 8
# gRPC worker threads of the in-process test servers close their connection after each call
# (django-grpc-framework's request signals), so the test database can be dropped at the end.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
