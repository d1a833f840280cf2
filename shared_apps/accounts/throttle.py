"""Slowing down repeated failed sign-ins: per account-and-address pair, per address, and
per account as a whole.

* **Pair** (one account from one client address): after ``SIGNIN_MAX_FAILURES_PER_ACCOUNT``
  failures within ``SIGNIN_FAILURE_WINDOW_SECONDS`` that address is locked out of that account
  until the window ends. A guesser is stopped; the owner, elsewhere, is not.
* **Address** (one client address over all accounts): after ``SIGNIN_MAX_FAILURES_PER_IP``
  failures the address is locked out of every account until the window ends.
* **Account** (all addresses): an attack on one account from many addresses must not keep its
  owner out, so the account is never locked: past ``SIGNIN_ACCOUNT_SLOW_AFTER`` failures in the
  window it is *slowed*: at most one attempt per ``SIGNIN_ACCOUNT_SLOW_SECONDS`` is let through
  from addresses that have not signed in to it within ``SIGNIN_KNOWN_ADDRESS_DAYS`` (the others
  get 429 with a Retry-After of those few seconds). Addresses the owner signed in from are not
  slowed. So a distributed guesser gets one guess every few seconds, and the owner gets in.

Client addresses are trustworthy because forwarding headers count only from ``TRUSTED_PROXIES``
(``shared_apps.core.client_ip``). Counters live in the default cache (Redis when ``REDIS_URL``
is set, so all auth processes share them); keys carry hashes, not addresses or emails (cache
keys show up in Redis MONITOR and dumps). A throttled caller gets ``RateLimited`` whether or
not the password it sends now is right, and no password is hashed for it.
"""

from __future__ import annotations

import hashlib
import math
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
    scope: str


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def _account_key(email: str) -> str:
    return "signin-fail:acct:" + _digest(email)


def _counters(email: str, client_ip: str | None) -> list[_Counter]:
    """The lock-out counters: the pair, and the address."""
    address = client_ip or "-"
    counters = [
        _Counter("signin-fail:pair:" + _digest(email, address), settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT, "pair")
    ]
    if client_ip:
        counters.append(_Counter("signin-fail:ip:" + _digest(client_ip), settings.SIGNIN_MAX_FAILURES_PER_IP, "ip"))
    return counters


def _known_key(email: str, client_ip: str | None) -> str:
    return "signin-known:" + _digest(email, client_ip or "-")


def _window_state(key: str) -> tuple[int, float]:
    """(failures, window end) of one counter; two keys so the count can be incremented atomically."""
    values = cache_guarded(lambda: cache.get_many([key, key + ":reset"]), {})
    return int(values.get(key, 0)), float(values.get(key + ":reset", 0.0))


def _throttled(scope: str, retry_after: float, message: str) -> RateLimited:
    seconds = max(1, math.ceil(retry_after))
    logger.warning("signin_throttled", scope=scope, retry_after=seconds)
    return RateLimited(message, retry_after=seconds)


def signin_throttle_check(*, email: str, client_ip: str | None) -> None:
    """Raise RateLimited if this attempt may not be checked now. Cheap: cache reads only."""
    now = time.time()
    for counter in _counters(email, client_ip):
        count, reset_at = _window_state(counter.key)
        if count >= counter.limit and reset_at > now:
            raise _throttled(counter.scope, reset_at - now, "Too many failed sign-in attempts; try again later.")
    _account_slowdown(email=email, client_ip=client_ip, now=now)


def _account_slowdown(*, email: str, client_ip: str | None, now: float) -> None:
    failures, reset_at = _window_state(_account_key(email))
    if failures < settings.SIGNIN_ACCOUNT_SLOW_AFTER or reset_at <= now:
        return
    if settings.SIGNIN_KNOWN_ADDRESS_DAYS and cache_guarded(lambda: cache.get(_known_key(email, client_ip)), None):
        return  # the owner's own address: never slowed
    interval = settings.SIGNIN_ACCOUNT_SLOW_SECONDS
    gate = "signin-slow:" + _digest(email)
    # One attempt per interval takes the gate (add is atomic in Redis and in local memory).
    if cache_guarded(lambda: cache.add(gate, now + interval, timeout=interval), True):
        return
    opens_at = float(cache_guarded(lambda: cache.get(gate), None) or now + interval)
    raise _throttled(
        "account", opens_at - now, "This account is under repeated failed sign-ins; retry in a few seconds."
    )


def signin_failure_record(*, email: str, client_ip: str | None) -> None:
    window = settings.SIGNIN_FAILURE_WINDOW_SECONDS
    now = time.time()
    for counter in _counters(email, client_ip):
        count = cache_guarded(lambda counter=counter: window_count(counter.key, now, window), 0)
        if count == counter.limit:
            logger.warning("signin_lockout_started", scope=counter.scope, failures=count)
    count = cache_guarded(lambda: window_count(_account_key(email), now, window), 0)
    if count == settings.SIGNIN_ACCOUNT_SLOW_AFTER:
        logger.warning("signin_account_slowed", failures=count)


def window_count(key: str, now: float, window: int) -> int:
    """One more in the fixed window counted at ``key`` (opened by the first); the new count."""
    # The first failure opens the window (add is a no-op when it is already open);
    # incr is atomic in Redis and in the local-memory cache, so parallel guesses all count.
    if cache.add(key + ":reset", now + window, timeout=window):
        cache.set(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # the window closed between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def signin_success_record(*, email: str, client_ip: str | None = None) -> None:
    """A right password from this address: its pair counter starts again, and the address is
    known to the account (not slowed). The account's own count stays: an attacker elsewhere
    must not get a fresh allowance because the owner signed in."""
    pair = _counters(email, client_ip)[0].key
    cache_guarded(lambda: cache.delete_many([pair, pair + ":reset"]), None)
    if settings.SIGNIN_KNOWN_ADDRESS_DAYS:
        timeout = settings.SIGNIN_KNOWN_ADDRESS_DAYS * 86400
        cache_guarded(lambda: cache.set(_known_key(email, client_ip), 1, timeout=timeout), None)


def signup_throttle_consume(*, client_ip: str | None) -> None:
    """One more sign-up from ``client_ip``; past ``SIGNUP_MAX_PER_ADDRESS`` within
    ``SIGNUP_WINDOW_SECONDS`` the address is refused until the window ends. Every account gets
    its own chat allowances (messages, tokens, replies in flight), so accounts made in bulk from
    one address would multiply them. Counted before the password is hashed."""
    if not client_ip:
        return
    key = "signup:ip:" + _digest(client_ip)
    now = time.time()
    count = cache_guarded(lambda: window_count(key, now, settings.SIGNUP_WINDOW_SECONDS), 0)
    if count > settings.SIGNUP_MAX_PER_ADDRESS:
        _count, reset_at = _window_state(key)
        seconds = max(1, math.ceil(reset_at - now))
        logger.warning("signup_throttled", retry_after=seconds)
        raise RateLimited("Too many sign-ups from this address; try again later.", retry_after=seconds)
