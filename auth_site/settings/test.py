"""Test settings: the database from DATABASE_URL (PostgreSQL in CI) or SQLite; cheap hashing."""

from .base import *  # noqa: F403
from .base import logging_config

DEBUG = False
LOGGING = logging_config("console")
# Argon2 stays first (the algorithm under test) but with a small cost so the suite is quick.
PASSWORD_HASHERS = ["shared_apps.core.testing.FastArgon2PasswordHasher"]
PASSWORD_HASH_CONCURRENCY = 8
PASSWORD_HASH_MAX_WAITING = 64  # parallel-refresh and throttle tests sign in many at once
# The chat suites sign many users up at once from loopback through this site's gRPC server;
# the admission tests set the production defaults (1) themselves.
PASSWORD_HASH_MAX_PER_ADDRESS = 64
PASSWORD_HASH_MAX_PER_ACCOUNT = 64
SIGNUP_MAX_PER_ADDRESS = 1_000_000  # the same: the sign-up limit's tests set it themselves
# gRPC worker threads of the in-process test servers close their connection after each call
# (django-grpc-framework's request signals), so the test database can be dropped at the end.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
import os  # noqa: E402
import tempfile  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not the shared-cache in-memory database: the latter locks whole tables and fails
    # at once ("database table is locked") instead of waiting, which concurrent tests would hit.
    # One file per test process, so parallel runs in one checkout do not collide.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"test_auth_{os.getpid()}.sqlite3")
    }
else:
    # Both sites' test runs may point at one server and database name (bin/test with one
    # DATABASE_URL); their test databases must not be the same one.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_auth_{os.getpid()}"}  # noqa: F405
