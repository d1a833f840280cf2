"""Throttling the second step of sign-in (two-factor codes), per account.

A guesser of TOTP codes already holds the password, so each wrong code (or wrong password
given to turn two-factor off) counts against the account: past ``MFA_MAX_FAILURES_PER_ACCOUNT``
within ``MFA_FAILURE_WINDOW_SECONDS`` the account's second step answers 429 until the window
ends, whatever code is sent. Each ``mfa_token`` also survives only
``MFA_MAX_ATTEMPTS_PER_TOKEN`` wrong codes (``mfa``), and a new one costs a right password,
whose own throttles (``throttle``) apply. With the defaults that is 10 guesses of a
one-in-a-million code (three accepted per guess: the clock window) per 15 minutes.

Counters live in the default cache like the sign-in throttles; keys carry hashes of the user
id, never an id or address.
"""

from __future__ import annotations

import hashlib
import math
import time

import structlog
from django.conf import settings
from django.core.cache import cache

from shared_apps.accounts.throttle import window_count
from shared_apps.core.cache_guard import cache_guarded
from shared_apps.core.errors import RateLimited

logger = structlog.get_logger(__name__)


def _key(user_id: str) -> str:
    return "mfa-fail:acct:" + hashlib.sha256(f"mfa\x00{user_id}".encode()).hexdigest()[:32]


def mfa_throttle_check(*, user_id: str) -> None:
    """Raise RateLimited while the account's second step is locked. Cache reads only."""
    key = _key(user_id)
    values = cache_guarded(lambda: cache.get_many([key, key + ":reset"]), {})
    count, reset_at = int(values.get(key, 0)), float(values.get(key + ":reset", 0.0))
    now = time.time()
    if count >= settings.MFA_MAX_FAILURES_PER_ACCOUNT and reset_at > now:
        retry_after = max(1, math.ceil(reset_at - now))
        logger.warning("mfa_throttled", user_id=user_id, retry_after=retry_after)
        raise RateLimited("Too many wrong two-factor codes; try again later.", retry_after=retry_after)


def mfa_failure_record(*, user_id: str) -> None:
    key = _key(user_id)
    window = settings.MFA_FAILURE_WINDOW_SECONDS
    now = time.time()
    failures = cache_guarded(lambda: window_count(key, now, window), 0)
    if failures == settings.MFA_MAX_FAILURES_PER_ACCOUNT:
        logger.warning("mfa_lockout_started", user_id=user_id, failures=failures)


def mfa_success_record(*, user_id: str) -> None:
    key = _key(user_id)
    cache_guarded(lambda: cache.delete_many([key, key + ":reset"]), None)
