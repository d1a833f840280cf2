"""Per-user limits: messages per minute and model tokens per UTC day, counted in the cache;
with the cache down they fail open (cache_guard)."""

from __future__ import annotations

import uuid

import pytest
import redis.exceptions

from shared_apps.chat import limits
from shared_apps.core.errors import RateLimited


def send(user_id: uuid.UUID, times: int) -> None:
    for _ in range(times):
        limits.message_rate_consume(user_id=user_id)


# --- messages per minute ---------------------------------------------------------------------------


def test_a_user_may_send_the_limit_in_a_minute_and_no_more(user_id, settings, clock):
    # given
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 3
    send(user_id, 3)
    # when / then
    with pytest.raises(RateLimited) as raised:
        limits.message_rate_consume(user_id=user_id)
    assert raised.value.message == "At most 3 messages per minute; try again in 45 s."
    assert raised.value.retry_after == 45


def test_one_users_message_rate_does_not_limit_another(user_id, other_user_id, settings, clock):
    # given
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 2
    send(user_id, 2)
    with pytest.raises(RateLimited):
        limits.message_rate_consume(user_id=user_id)
    # when / then the other user still has the whole minute's allowance
    send(other_user_id, 2)
    with pytest.raises(RateLimited):
        limits.message_rate_consume(user_id=other_user_id)


def test_the_message_rate_starts_again_each_minute(user_id, settings, clock):
    # given a minute used up
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 2
    send(user_id, 2)
    clock.advance(44)  # 59 s into the minute
    with pytest.raises(RateLimited) as raised:
        limits.message_rate_consume(user_id=user_id)
    assert raised.value.retry_after == 1
    # when the next minute begins
    clock.advance(1)
    # then the allowance is whole again
    send(user_id, 2)
    with pytest.raises(RateLimited):
        limits.message_rate_consume(user_id=user_id)


@pytest.mark.parametrize(("seconds_into_the_minute", "retry_after"), [(0.0, 60), (0.5, 60), (30.2, 30), (59.9, 1)])
def test_retry_after_counts_the_seconds_left_in_the_minute(
    user_id, settings, clock, seconds_into_the_minute, retry_after
):
    # given
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 1
    clock.now = clock.now - 15 + seconds_into_the_minute
    send(user_id, 1)
    # when
    with pytest.raises(RateLimited) as raised:
        limits.message_rate_consume(user_id=user_id)
    # then
    assert raised.value.retry_after == retry_after
    assert raised.value.details == {"retry_after": retry_after}


# --- tokens per day -------------------------------------------------------------------------------


def test_the_token_budget_is_refused_once_the_days_usage_reaches_it(user_id, settings, clock):
    # given a budget of 1000 tokens, 999 of them used
    settings.CHAT_RATE_TOKENS_PER_DAY = 1000
    limits.token_usage_record(user_id=user_id, tokens=600)
    limits.token_usage_record(user_id=user_id, tokens=399)
    limits.token_budget_check(user_id=user_id)
    # when the last token is used
    limits.token_usage_record(user_id=user_id, tokens=1)
    # then refused until the next UTC day
    with pytest.raises(RateLimited) as raised:
        limits.token_budget_check(user_id=user_id)
    assert raised.value.code == "rate_limited"
    assert raised.value.message == "The daily budget of 1000 model tokens is used up."
    assert raised.value.retry_after == limits.DAY - 15


def test_one_users_token_usage_does_not_limit_another(user_id, other_user_id, settings, clock):
    # given
    settings.CHAT_RATE_TOKENS_PER_DAY = 100
    limits.token_usage_record(user_id=user_id, tokens=100)
    # when / then
    with pytest.raises(RateLimited):
        limits.token_budget_check(user_id=user_id)
    limits.token_budget_check(user_id=other_user_id)


def test_the_token_budget_starts_again_each_utc_day(user_id, settings, clock):
    # given a day's budget used up, a second before midnight UTC
    settings.CHAT_RATE_TOKENS_PER_DAY = 100
    limits.token_usage_record(user_id=user_id, tokens=150)
    clock.advance(limits.DAY - 16)
    with pytest.raises(RateLimited) as raised:
        limits.token_budget_check(user_id=user_id)
    assert raised.value.retry_after == 1
    # when the next day begins
    clock.advance(1)
    # then
    limits.token_budget_check(user_id=user_id)


def test_usage_of_no_tokens_is_not_counted(user_id, settings, clock):
    # given
    settings.CHAT_RATE_TOKENS_PER_DAY = 1
    # when
    limits.token_usage_record(user_id=user_id, tokens=0)
    # then
    limits.token_budget_check(user_id=user_id)


def test_the_token_budget_accepts_a_user_id_as_text(user_id, settings, clock):
    # given usage recorded under the id as text (messages carry it as a UUID, tokens as a string)
    settings.CHAT_RATE_TOKENS_PER_DAY = 10
    limits.token_usage_record(user_id=str(user_id), tokens=10)
    # when / then it counts for the same user
    with pytest.raises(RateLimited):
        limits.token_budget_check(user_id=user_id)


# --- the cache down: limits fail open ----------------------------------------------------------------


class DownCache:
    """A cache whose every call fails as an unreachable Redis does."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def _fail(self, *args, **kwargs):
        self.calls += 1
        raise self.error

    add = incr = get = set = _fail


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ConnectionRefusedError(111, "Connection refused"), id="socket refused"),
        pytest.param(TimeoutError("timed out"), id="socket timeout"),
        pytest.param(redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379."), id="redis down"),
        pytest.param(redis.exceptions.TimeoutError("Timeout reading from socket"), id="redis timeout"),
    ],
)
def test_with_the_cache_down_messages_and_tokens_are_not_limited(user_id, settings, clock, monkeypatch, error):
    # given every limit at its smallest and the cache unreachable
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 1
    settings.CHAT_RATE_TOKENS_PER_DAY = 1
    down = DownCache(error)
    monkeypatch.setattr(limits, "cache", down)
    # when
    send(user_id, 5)
    limits.token_usage_record(user_id=user_id, tokens=1000)
    limits.token_budget_check(user_id=user_id)
    # then nothing was refused, though the cache was asked each time
    assert down.calls >= 7


def test_a_cache_error_that_is_not_an_outage_is_raised(user_id, clock, monkeypatch):
    # given a cache failing with a programming error, not an outage
    monkeypatch.setattr(limits, "cache", DownCache(TypeError("unsupported operand")))
    # when / then
    with pytest.raises(TypeError):
        limits.message_rate_consume(user_id=user_id)
