"""With Redis unreachable, counters fail open instead of failing every request."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import override_settings

from shared_apps.accounts.throttle import signin_failure_record, signin_throttle_check
from shared_apps.core.cache_guard import cache_guarded

DEAD_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


def test_unrelated_errors_still_raise():
    with pytest.raises(ZeroDivisionError):
        cache_guarded(lambda: 1 / 0, 0)


@override_settings(CACHES=DEAD_REDIS, SIGNIN_MAX_FAILURES_PER_ACCOUNT=1)
def test_signin_throttle_fails_open_when_redis_is_down():
    caches["default"].close()
    # given a dead cache, recording failures and checking the throttle neither raise nor block
    for _ in range(3):
        signin_failure_record(email="a@example.com", client_ip="10.0.0.1")
    signin_throttle_check(email="a@example.com", client_ip="10.0.0.1")
