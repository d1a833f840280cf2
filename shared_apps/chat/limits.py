"""Per-user limits: messages per minute and model tokens per day.

Counters live in the default cache (Redis when configured, so all chat processes share
them). Windows are fixed (the current minute, the current UTC day).
"""

from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache

from shared_apps.core.cache_guard import cache_guarded
from shared_apps.core.errors import RateLimited

DAY = 86400


def _incr(key: str, amount: int, ttl: int) -> int:
    def incr() -> int:
        cache.add(key, 0, timeout=ttl)
        try:
            return cache.incr(key, amount)
        except ValueError:  # expired between add and incr
            cache.set(key, amount, timeout=ttl)
            return amount

    return cache_guarded(incr, 0)


def message_rate_consume(*, user_id: uuid.UUID) -> None:
    now = time.time()
    minute = int(now // 60)
    count = _incr(f"chat-rate:msg:{user_id}:{minute}", 1, 120)
    if count > settings.CHAT_RATE_MESSAGES_PER_MINUTE:
        retry_after = max(1, int(60 - now % 60 + 0.999))
        raise RateLimited(
            f"At most {settings.CHAT_RATE_MESSAGES_PER_MINUTE} messages per minute; try again in {retry_after} s.",
            retry_after=retry_after,
        )


def token_budget_check(*, user_id: uuid.UUID) -> None:
    now = time.time()
    used = cache_guarded(lambda: cache.get(f"chat-rate:tok:{user_id}:{int(now // DAY)}", 0), 0)
    if used >= settings.CHAT_RATE_TOKENS_PER_DAY:
        retry_after = max(1, int(DAY - now % DAY))
        raise RateLimited(
            f"The daily budget of {settings.CHAT_RATE_TOKENS_PER_DAY} model tokens is used up.", retry_after=retry_after
        )


def token_usage_record(*, user_id: uuid.UUID | str, tokens: int) -> None:
    if tokens > 0:
        _incr(f"chat-rate:tok:{user_id}:{int(time.time() // DAY)}", tokens, DAY + 3600)
