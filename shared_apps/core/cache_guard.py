"""Counters in the cache must not take the service down with the cache.

Rate limits and sign-in throttles keep their counters in the default cache (Redis when
``REDIS_URL`` is set). If Redis is unreachable, ``cache_guarded`` logs once per burst and
answers the given default, so limits fail open (requests are served, unthrottled) rather
than every request failing with 500 until Redis returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import structlog

logger = structlog.get_logger(__name__)
T = TypeVar("T")

_last_warning = 0.0


def cache_guarded(call: Callable[[], T], default: T) -> T:
    global _last_warning
    try:
        return call()
    except (ConnectionError, TimeoutError, OSError) as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - redis-py raises its own ConnectionError/TimeoutError
        if type(exc).__module__.split(".")[0] != "redis":
            raise
        error = exc
    now = time.monotonic()
    if now - _last_warning > 10:
        _last_warning = now
        logger.warning("cache_unavailable_failing_open", error=type(error).__name__)
    return default
