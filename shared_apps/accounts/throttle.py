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


def signin_throttle_check(*, email: str, client_ip: str | None) -> None:
    now = time.time()
    for counter in _counters(email, client_ip):
        state = cache.get(counter.key)
        if state and state["count"] >= counter.limit and state["reset_at"] > now:
            retry_after = max(1, int(state["reset_at"] - now + 0.999))
            logger.warning("signin_throttled", scope=counter.key.split(":")[1], retry_after=retry_after)
            raise RateLimited("Too many failed sign-in attempts; try again later.", retry_after=retry_after)


def signin_failure_record(*, email: str, client_ip: str | None) -> None:
    window = settings.SIGNIN_FAILURE_WINDOW_SECONDS
    now = time.time()
    for counter in _counters(email, client_ip):
        state = cache.get(counter.key)
        if not state or state["reset_at"] <= now:
            state = {"count": 0, "reset_at": now + window}
        state["count"] += 1
        cache.set(counter.key, state, timeout=int(state["reset_at"] - now) + 1)
        if state["count"] == counter.limit:
            logger.warning("signin_lockout_started", scope=counter.key.split(":")[1], failures=state["count"])


def signin_success_record(*, email: str) -> None:
    cache.delete(_account_key(email))
