"""Password hashing with a cap on how many hashes run, and wait, at once in this process.

Argon2 is deliberately expensive (~100 MiB and a core for a moment). Without a cap a
sign-in flood would occupy every worker thread and starve cheap requests: at most
``PASSWORD_HASH_CONCURRENCY`` hashes run, at most ``PASSWORD_HASH_MAX_WAITING`` callers
wait (each up to ``PASSWORD_HASH_WAIT_SECONDS``), and anyone beyond is told to retry in a
second (429 / RESOURCE_EXHAUSTED) instead of holding a thread.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth.hashers import make_password

from shared_apps.core.errors import RateLimited

_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None
_waiting = 0

BUSY = "The service is busy checking passwords; retry in a second."


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    if _slots is None:
        with _lock:
            if _slots is None:
                _slots = threading.BoundedSemaphore(settings.PASSWORD_HASH_CONCURRENCY)
    return _slots


@contextmanager
def hashing_slot():
    global _waiting
    slots = _semaphore()
    if not slots.acquire(blocking=False):
        with _lock:
            if _waiting >= settings.PASSWORD_HASH_MAX_WAITING:
                raise RateLimited(BUSY, retry_after=1)
            _waiting += 1
        try:
            acquired = slots.acquire(timeout=settings.PASSWORD_HASH_WAIT_SECONDS)
        finally:
            with _lock:
                _waiting -= 1
        if not acquired:
            raise RateLimited(BUSY, retry_after=1)
    try:
        yield
    finally:
        slots.release()


def password_check(user, raw_password: str) -> bool:
    with hashing_slot():
        return user.check_password(raw_password)


def password_hash_dummy(raw_password: str) -> None:
    """Spend the same time as a real check when there is no user to check against."""
    with hashing_slot():
        make_password(raw_password)
