"""Password hashing on a small, low-priority thread pool, with admission control.

Argon2 is deliberately expensive (~100 MiB and a core for a moment). A sign-in flood
must neither occupy every request thread nor take the CPU from cheap requests, so:

* at most ``PASSWORD_HASH_CONCURRENCY`` hashes run at once, on dedicated threads that
  lower their own scheduling priority (``PASSWORD_HASH_NICE``; Linux nice is per
  thread), so a read request waiting for the CPU goes first;
* at most ``PASSWORD_HASH_MAX_WAITING`` more wait for a hashing thread; anyone beyond
  is told to retry in a second (429 / RESOURCE_EXHAUSTED) instead of holding a thread;
* before that global queue, each caller is admitted per client address and per account:
  at most ``PASSWORD_HASH_MAX_PER_ADDRESS`` hashes (running or waiting) for one address and
  ``PASSWORD_HASH_MAX_PER_ACCOUNT`` for one email address. A flood from one address, or
  aimed at one account, holds that many places and no more, so sign-ins of everyone else
  still find the hashing capacity free; the rest of the flood is told to retry at once.

Only the hash runs on the pool; database work stays on the calling thread.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher, make_password

from shared_apps.core.errors import RateLimited

T = TypeVar("T")
BUSY = "The service is busy checking passwords; retry in a second."
BUSY_CALLER = "Another password check for this address or account is in progress; retry in a second."

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_admitted = 0
_in_flight: Counter[str] = Counter()  # hashes running or waiting, per admission key

# (key, limit) pairs a caller is admitted under; see ``hash_callers``.
Callers = tuple[tuple[str, int], ...]


def hash_callers(*, email: str | None = None, client_ip: str | None = None) -> Callers:
    """The admission keys of a hash done for ``client_ip`` on ``email``'s account."""
    callers: list[tuple[str, int]] = []
    if client_ip:
        callers.append((f"addr:{client_ip}", settings.PASSWORD_HASH_MAX_PER_ADDRESS))
    if email:
        digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        callers.append((f"acct:{digest}", settings.PASSWORD_HASH_MAX_PER_ACCOUNT))
    return tuple(callers)


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


def _hash_run(func: Callable[..., T], *args, callers: Callers = ()) -> T:
    global _admitted
    with _lock:
        # Per caller first: a caller over its own share must not take a place in the global queue.
        if any(_in_flight[key] >= limit for key, limit in callers):
            raise RateLimited(BUSY_CALLER, retry_after=1)
        if _admitted >= settings.PASSWORD_HASH_CONCURRENCY + settings.PASSWORD_HASH_MAX_WAITING:
            raise RateLimited(BUSY, retry_after=1)
        _admitted += 1
        for key, _limit in callers:
            _in_flight[key] += 1
    try:
        return _hashing_pool().submit(func, *args).result()
    finally:
        with _lock:
            _admitted -= 1
            for key, _limit in callers:
                _in_flight[key] -= 1
                if _in_flight[key] <= 0:
                    del _in_flight[key]


def password_hash(raw_password: str, *, callers: Callers = ()) -> str:
    return _hash_run(make_password, raw_password, callers=callers)


def password_check(user, raw_password: str, *, callers: Callers = ()) -> bool:
    """Check ``raw_password`` against ``user``'s hash; upgrade the hash if its cost changed."""
    encoded = user.password
    if not encoded or not _hash_run(check_password, raw_password, encoded, callers=callers):
        return False
    try:
        outdated = identify_hasher(encoded).algorithm != get_hasher().algorithm or get_hasher().must_update(encoded)
    except ValueError:
        outdated = False
    if outdated:
        user.password = password_hash(raw_password, callers=callers)
        user.save(update_fields=["password"])
    return True


def password_hash_dummy(raw_password: str, *, callers: Callers = ()) -> None:
    """Spend the same time as a real check when there is no user to check against."""
    password_hash(raw_password, callers=callers)


def password_hash_matches(raw: str, encoded: str, *, callers: Callers = ()) -> bool:
    """Check ``raw`` against a stored hash that is not a user's password (a recovery code)."""
    return bool(encoded) and _hash_run(check_password, raw, encoded, callers=callers)
