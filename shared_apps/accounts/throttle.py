"""Slowing down repeated failed sign-ins, per account and per client address.

Counters live in the default cache (Redis when ``REDIS_URL`` is set, so all auth
processes share them). A locked-out caller gets ``RateLimited`` with the seconds until
the window ends, whether or not the password it sends now is right.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.cache import cache

from shared_apps.core.cache_guard import cache_guarded
from shared_apps.core.errors import RateLimited

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int


def _account_key(email: str) -> str:
    # Hash the address: cache keys show up in Redis MONITOR and dumps.
    return "signin-fail:acct:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def _counters(email: str, client_ip: str | None) -> list[_Counter]:
    counters = [_Counter(_account_key(email), settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT)]
    if client_ip:
        counters.append(_Counter(f"signin-fail:ip:{client_ip}", settings.SIGNIN_MAX_FAILURES_PER_IP))
    return counters


def _window_state(key: str) -> tuple[int, float]:
    """(failures, window end) of one counter; two keys so the count can be incremented atomically."""
    values = cache_guarded(lambda: cache.get_many([key, key + ":reset"]), {})
    return int(values.get(key, 0)), float(values.get(key + ":reset", 0.0))


def signin_throttle_check(*, email: str, client_ip: str | None) -> None:
    now = time.time()
    for counter in _counters(email, client_ip):
        count, reset_at = _window_state(counter.key)
        if count >= counter.limit and reset_at > now:
            retry_after = max(1, int(reset_at - now + 0.999))
            logger.warning("signin_throttled", scope=counter.key.split(":")[1], retry_after=retry_after)
            raise RateLimited("Too many failed sign-in attempts; try again later.", retry_after=retry_after)


def signin_failure_record(*, email: str, client_ip: str | None) -> None:
    window = settings.SIGNIN_FAILURE_WINDOW_SECONDS
    now = time.time()
    for counter in _counters(email, client_ip):
        count = cache_guarded(lambda counter=counter: _failure_count(counter.key, now, window), 0)
        if count == counter.limit:
            logger.warning("signin_lockout_started", scope=counter.key.split(":")[1], failures=count)


def _failure_count(key: str, now: float, window: int) -> int:
    # The first failure opens the window (add is a no-op when it is already open);
    # incr is atomic in Redis and in the local-memory cache, so parallel guesses all count.
    if cache.add(key + ":reset", now + window, timeout=window):
        cache.set(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # the window closed between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def signin_success_record(*, email: str) -> None:
    key = _account_key(email)
    cache_guarded(lambda: cache.delete_many([key, key + ":reset"]), None)
