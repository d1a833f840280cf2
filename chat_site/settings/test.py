"""Test settings: the database from DATABASE_URL (PostgreSQL in CI) or SQLite."""

from .base import *  # noqa: F403
from .base import logging_config

DEBUG = False
LOGGING = logging_config("console")
PASSWORD_HASHERS = ["shared_apps.core.testing.FastArgon2PasswordHasher"]
CHAT_LOCAL_DELAY_SECONDS = 0.0
# One frame per delta in the transport tests, however loaded the machine: they assert each
# delta's seq. The coalescing tests (a reader that fell behind) set this low themselves.
CHAT_COALESCE_AFTER_SECONDS = 60.0
# A generated title is one more upstream request (and a socket frame) after a new
# conversation's first reply; the tests that count what went upstream would count it too.
# The title tests (shared_apps/chat/tests/test_titles.py) turn it on.
CHAT_TITLES = False

# SQLite: a file-based test database (not shared-cache memory, whose table locks fail
# instantly under the concurrent threads these tests use) with IMMEDIATE transactions.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_chat.sqlite3")}  # noqa: F405
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}  # noqa: F405
