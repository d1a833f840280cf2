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
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not the shared-cache in-memory database: the latter locks whole tables and fails
    # at once ("database table is locked") instead of waiting, which concurrent tests would hit.
    # One file per test process, so parallel runs in one checkout do not collide.
    import os
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"test_auth_{os.getpid()}.sqlite3")
    }
