"""Password hashing with a cap on how many hashes run at once in this process.

Argon2 is deliberately expensive; without a cap a sign-in flood would occupy every
worker thread and starve cheap requests. Callers wait for a slot instead.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import make_password

_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


@contextmanager
def hashing_slot():
    global _slots
    if _slots is None:
        with _slots_lock:
            if _slots is None:
                _slots = threading.BoundedSemaphore(settings.PASSWORD_HASH_CONCURRENCY)
    with _slots:
        yield


def password_check(user, raw_password: str) -> bool:
    with hashing_slot():
        return user.check_password(raw_password)


def password_hash_dummy(raw_password: str) -> None:
    """Spend the same time as a real check when there is no user to check against."""
    with hashing_slot():
        make_password(raw_password)
