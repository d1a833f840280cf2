"""Per-user limits: messages per minute and model tokens per day.

Counters live in the default cache (Redis when configured, so all chat processes share
them). Windows are fixed (the current minute, the current UTC day).

The token budget counts replies in flight too: a reply reserves its ``max_tokens`` plus its
prompt's estimate when it is planned (``token_budget_reserve``) and settles to its real usage
when it is stored (``token_reservation_settle``), so replies running in parallel cannot spend
more than the day's budget between them (checked before and recorded after, N parallel
replies all passed the check).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

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


def _rate_key(user_id: uuid.UUID | str, now: float) -> str:
    return f"chat-rate:msg:{user_id}:{int(now // 60)}"


def _rate_exceeded(now: float) -> RateLimited:
    retry_after = max(1, int(60 - now % 60 + 0.999))
    return RateLimited(
        f"At most {settings.CHAT_RATE_MESSAGES_PER_MINUTE} messages per minute; try again in {retry_after} s.",
        retry_after=retry_after,
    )


def message_rate_consume(*, user_id: uuid.UUID) -> None:
    now = time.time()
    if _incr(_rate_key(user_id, now), 1, 120) > settings.CHAT_RATE_MESSAGES_PER_MINUTE:
        raise _rate_exceeded(now)


def conversation_rate_consume(*, user_id: uuid.UUID) -> None:
    """Conversations created on their own (not by a first message, which the message rate
    counts) per minute: every one is a row, and without a limit one account could add rows as
    fast as it can send requests."""
    now = time.time()
    count = _incr(f"chat-rate:conv:{user_id}:{int(now // 60)}", 1, 120)
    if count > settings.CHAT_RATE_CONVERSATIONS_PER_MINUTE:
        retry_after = max(1, int(60 - now % 60 + 0.999))
        raise RateLimited(
            f"At most {settings.CHAT_RATE_CONVERSATIONS_PER_MINUTE} new conversations per minute; "
            f"try again in {retry_after} s.",
            retry_after=retry_after,
        )


def _tokens_key(user_id: uuid.UUID | str, day: int) -> str:
    return f"chat-rate:tok:{user_id}:{day}"


def _budget_used_up(now: float) -> RateLimited:
    return RateLimited(
        f"The daily budget of {settings.CHAT_RATE_TOKENS_PER_DAY} model tokens is used up.",
        retry_after=max(1, int(DAY - now % DAY)),
    )


def token_budget_check(*, user_id: uuid.UUID) -> None:
    """Refuse once the day's tokens (used, and reserved by replies in flight) reach the budget."""
    now = time.time()
    used = cache_guarded(lambda: cache.get(_tokens_key(user_id, int(now // DAY)), 0), 0)
    if used >= settings.CHAT_RATE_TOKENS_PER_DAY:
        raise _budget_used_up(now)


@dataclass
class TokenReservation:
    """What a reply holds of its user's daily budget until it is stored."""

    user_id: str
    day: int  # the UTC day it was taken from (and is settled against)
    tokens: int  # output_tokens + prompt_tokens
    output_tokens: int  # the reply's max_tokens
    prompt_tokens: int  # the prompt's estimate
    settled: bool = False


def token_budget_reserve(*, user_id: uuid.UUID | str, output_tokens: int, prompt_tokens: int) -> TokenReservation:
    """Reserve a reply's ``output_tokens`` (its max_tokens) and its prompt's estimate from the
    day's budget; near the end of the budget the reply gets what is left (its max_tokens lowered
    to fit). Refused (RateLimited) when nothing is left. With the cache down, not limited."""
    now = time.time()
    day = int(now // DAY)
    key = _tokens_key(user_id, day)
    budget = settings.CHAT_RATE_TOKENS_PER_DAY
    left = budget - cache_guarded(lambda: cache.get(key, 0), 0)
    if left <= 0:
        raise _budget_used_up(now)
    output_tokens = max(1, min(output_tokens, left - prompt_tokens))
    tokens = output_tokens + prompt_tokens
    total = _incr(key, tokens, DAY + 3600)
    if total - tokens >= budget:  # replies in parallel took what was left meanwhile
        _incr(key, -tokens, DAY + 3600)
        raise _budget_used_up(now)
    return TokenReservation(str(user_id), day, tokens, output_tokens, prompt_tokens)


# One round trip for everything a reply takes from its user's limits (Redis runs the script
# atomically, so replies racing for the last tokens cannot both get them). Keys and values are
# the cache's own (``cache.make_and_validate_key``; integers stored as plain numbers), so
# ``cache.get`` reads what the script wrote. Answers {0, output_tokens}, or {1, 0} when the
# budget is used up (no message counted), or {2, 0} when the message rate is.
_TAKE_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local budget = tonumber(ARGV[1])
if used >= budget then return {1, 0} end
local count = redis.call('INCR', KEYS[2])
if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
if count > tonumber(ARGV[2]) then return {2, 0} end
local prompt = tonumber(ARGV[4])
local output = math.max(1, math.min(tonumber(ARGV[3]), budget - used - prompt))
redis.call('INCRBY', KEYS[1], output + prompt)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[5]) end
return {0, output}
"""
_take_script = None


def _redis_client():
    """The default cache's Redis client, or None when the cache is not Redis."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    backend = caches["default"]
    return backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None


def reply_limits_take(*, user_id: uuid.UUID, output_tokens: int, prompt_tokens: int) -> TokenReservation:
    """What a new reply takes from its user's limits, in this order: refused (RateLimited) when
    the day's token budget is used up; then one message of the minute's rate, refused past it;
    then a reservation of ``output_tokens`` (lowered to what is left) and the prompt's estimate
    from the day's budget (``token_budget_reserve``). With Redis, one round trip."""
    client = _redis_client()
    if client is None:
        token_budget_check(user_id=user_id)
        message_rate_consume(user_id=user_id)
        return token_budget_reserve(user_id=user_id, output_tokens=output_tokens, prompt_tokens=prompt_tokens)
    global _take_script
    if _take_script is None:
        _take_script = client.register_script(_TAKE_SCRIPT)
    now = time.time()
    day = int(now // DAY)
    keys = [
        cache.make_and_validate_key(_tokens_key(user_id, day)),
        cache.make_and_validate_key(_rate_key(user_id, now)),
    ]
    args = [
        settings.CHAT_RATE_TOKENS_PER_DAY,
        settings.CHAT_RATE_MESSAGES_PER_MINUTE,
        output_tokens,
        prompt_tokens,
        DAY + 3600,
        120,
    ]
    outcome, granted = cache_guarded(lambda: _take_script(keys=keys, args=args, client=client), (0, output_tokens))
    if outcome == 1:
        raise _budget_used_up(now)
    if outcome == 2:
        raise _rate_exceeded(now)
    return TokenReservation(str(user_id), day, granted + prompt_tokens, granted, prompt_tokens)


def token_reservation_settle(reservation: TokenReservation, *, used_tokens: int) -> None:
    """Replace a reply's reservation by what it really used (once: the final save may be retried)."""
    if reservation.settled:
        return
    reservation.settled = True
    if used_tokens != reservation.tokens:
        _incr(_tokens_key(reservation.user_id, reservation.day), used_tokens - reservation.tokens, DAY + 3600)


def token_usage_record(*, user_id: uuid.UUID | str, tokens: int) -> None:
    if tokens > 0:
        _incr(_tokens_key(user_id, int(time.time() // DAY)), tokens, DAY + 3600)
