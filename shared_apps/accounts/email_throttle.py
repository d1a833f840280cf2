"""How often the auth service sends an email of one kind (password reset, verification), so that
its endpoints cannot be used to flood an inbox or to send mail in bulk.

Requests are counted, per kind, in fixed windows of ``ACCOUNT_EMAILS_WINDOW_SECONDS``:

* per **account**: ``ACCOUNT_EMAILS_PER_ACCOUNT`` for one recipient. A reset request is counted
  under the address it names whether or not an account has it, so the answer past the limit
  (429) is the same for both and tells nothing about which addresses exist;
* per **client address**: ``ACCOUNT_EMAILS_PER_IP`` over all recipients.

The counters are the sign-in throttle's (``throttle``): in the default cache, keyed by hashes,
incremented atomically before anything is sent, so parallel requests cannot overshoot.
"""

from __future__ import annotations

import math
import time

import structlog
from django.conf import settings

from shared_apps.accounts.throttle import _digest, _window_state, window_count
from shared_apps.core.cache_guard import cache_guarded
from shared_apps.core.errors import RateLimited

logger = structlog.get_logger(__name__)

TOO_MANY = "Too many emails of this kind were asked for; try again later."


def _keys(kind: str, account: str, client_ip: str | None) -> list[tuple[str, int, str]]:
    keys = [(f"mail:{kind}:acct:" + _digest(account), settings.ACCOUNT_EMAILS_PER_ACCOUNT, "account")]
    if client_ip:
        keys.append((f"mail:{kind}:ip:" + _digest(client_ip), settings.ACCOUNT_EMAILS_PER_IP, "ip"))
    return keys


def account_email_admit(*, kind: str, account: str, client_ip: str | None) -> int | None:
    """Count one request for an email of ``kind`` to ``account`` (a normalised address or a user
    id) from ``client_ip``. None when it may be sent, else the seconds until it may."""
    window = settings.ACCOUNT_EMAILS_WINDOW_SECONDS
    now = time.time()
    wait = 0.0
    for key, limit, scope in _keys(kind, account, client_ip):
        count = cache_guarded(lambda key=key: window_count(key, now, window), 0)
        if count > limit:
            _count, reset_at = _window_state(key)
            wait = max(wait, reset_at - now, 1.0)
            if count == limit + 1:
                logger.warning("account_email_throttled", kind=kind, scope=scope)
    return max(1, math.ceil(wait)) if wait else None


def account_email_throttle(*, kind: str, account: str, client_ip: str | None) -> None:
    """``account_email_admit``, raising ``RateLimited`` (429 / RESOURCE_EXHAUSTED) past a limit."""
    retry_after = account_email_admit(kind=kind, account=account, client_ip=client_ip)
    if retry_after is not None:
        raise RateLimited(TOO_MANY, retry_after=retry_after)
