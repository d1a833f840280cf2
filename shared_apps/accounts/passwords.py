"""Password hashing on a small, low-priority thread pool, with admission control.

Argon2 is deliberately expensive (~100 MiB and a core for a moment). A sign-in flood
must neither occupy every request thread nor take the CPU from cheap requests, so:

* at most ``PASSWORD_HASH_CONCURRENCY`` hashes run at once, on dedicated threads that
  lower their own scheduling priority (``PASSWORD_HASH_NICE``; Linux nice is per
  thread), so a read request waiting for the CPU goes first;
* at most ``PASSWORD_HASH_MAX_WAITING`` more wait for a hashing thread; anyone beyond
  is told to retry in a second (429 / RESOURCE_EXHAUSTED) instead of holding a thread.

Only the hash runs on the pool; database work stays on the calling thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher, make_password

from shared_apps.core.errors import RateLimited

T = TypeVar("T")
BUSY = "The service is busy checking passwords; retry in a second."

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_admitted = 0


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, 0, settings.PASSWORD_HASH_NICE)  # 0: this thread (Linux)
    except (AttributeError, OSError):  # not Linux, or not allowed: hash at normal priority
        pass


def _hashing_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    max_workers=settings.PASSWORD_HASH_CONCURRENCY,
                    thread_name_prefix="hash",
                    initializer=_lower_priority,
                )
    return _pool


def hashing_pool_reset() -> None:
    """Tests: rebuild the pool from the current settings."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False)
        _pool = None


def _hash_run(func: Callable[..., T], *args) -> T:
    global _admitted
    with _lock:
        if _admitted >= settings.PASSWORD_HASH_CONCURRENCY + settings.PASSWORD_HASH_MAX_WAITING:
            raise RateLimited(BUSY, retry_after=1)
        _admitted += 1
    try:
        return _hashing_pool().submit(func, *args).result()
    finally:
        with _lock:
            _admitted -= 1


def password_hash(raw_password: str) -> str:
    return _hash_run(make_password, raw_password)


def password_check(user, raw_password: str) -> bool:
    """Check ``raw_password`` against ``user``'s hash; upgrade the hash if its cost changed."""
    encoded = user.password
    if not encoded or not _hash_run(check_password, raw_password, encoded):
        return False
    try:
        outdated = identify_hasher(encoded).algorithm != get_hasher().algorithm or get_hasher().must_update(encoded)
    except ValueError:
        outdated = False
    if outdated:
        user.password = password_hash(raw_password)
        user.save(update_fields=["password"])
    return True


def password_hash_dummy(raw_password: str) -> None:
    """Spend the same time as a real check when there is no user to check against."""
    password_hash(raw_password)
