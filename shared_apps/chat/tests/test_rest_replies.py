"""REST: AI replies through the real openai SDK against the loopback upstream."""

from __future__ import annotations

import pytest

from shared_apps.chat.models import Message
from testkit.fake_openai import (
    break_after,
    delay_first_byte,
    error,
    malformed_after,
    reply,
    stall_after,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _new_conversation(api, who) -> str:
    return api.post("/v1/chat/conversations", {"title": "t"}, format="json", **who.headers).json()["id"]


def test_reply_is_stored_with_usage_and_history_goes_upstream(api, alice, upstream):
    # given
    conversation_id = _new_conversation(api, alice)
    upstream.enqueue(
        reply(
            ["Paris", " is", " the capital."], usage={"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
        )
    )
    upstream.enqueue(reply(["About", " 2.1M."]))
    # when
    first = api.post(
        f"/v1/chat/conversations/{conversation_id}/messages",
        {"content": "Capital of France?", "temperature": 0.2, "max_tokens": 50},
        format="json",
        **alice.headers,
    )
    second = api.post(
        f"/v1/chat/conversations/{conversation_id}/messages", {"content": "Population?"}, format="json", **alice.headers
    )
    # then
    assert first.status_code == 201, first.json()
    assert first.json()["assistant_message"]["content"] == "Paris is the capital."
    assert first.json()["assistant_message"]["status"] == "complete"
    assert first.json()["user_message"]["role"] == "user"
    stored = Message.objects.get(id=first.json()["assistant_message"]["id"])
    assert (stored.prompt_tokens, stored.completion_tokens, stored.total_tokens) == (11, 3, 14)
    assert stored.finish_reason == "stop"
    sent = upstream.chat_requests[0].json
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [{"role": "user", "content": "Capital of France?"}]
    history = upstream.chat_requests[1].json["messages"]
    assert history == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris is the capital."},
        {"role": "user", "content": "Population?"},
    ]
    assert second.json()["assistant_message"]["content"] == "About 2.1M."


def test_context_budget_keeps_newest_turns(api, alice, upstream, settings):
    settings.CHAT_CONTEXT_TOKENS = 1100  # minus 1024 reserved for the reply: ~76 tokens of history
    conversation_id = _new_conversation(api, alice)
    for word in ["alpha", "bravo", "charlie"]:
        upstream.enqueue(reply(["ok " * 20]))
        api.post(
            f"/v1/chat/conversations/{conversation_id}/messages", {"content": word * 20}, format="json", **alice.headers
        )
    messages = upstream.chat_requests[-1].json["messages"]
    assert messages[-1]["content"] == "charlie" * 20
    # the newest earlier turn fits and is kept; older ones fell out of the budget
    assert messages[:-1] == [{"role": "assistant", "content": "ok " * 20}]
    contents = " ".join(m["content"] for m in messages)
    assert "alpha" not in contents and "bravo" not in contents


def test_client_message_id_is_idempotent(api, alice, upstream):
    conversation_id = _new_conversation(api, alice)
    body = {"content": "hello", "client_message_id": "c-1"}
    first = api.post(f"/v1/chat/conversations/{conversation_id}/messages", body, format="json", **alice.headers)
    again = api.post(f"/v1/chat/conversations/{conversation_id}/messages", body, format="json", **alice.headers)
    assert first.json() == again.json()
    assert len(upstream.chat_requests) == 1
    assert Message.objects.filter(conversation_id=conversation_id).count() == 2


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"content": "   "}, "empty"),
        ({"content": "x" * 40001}, "At most"),
        ({"content": "hi", "model": "gpt-5-secret"}, "not allowed"),
    ],
)
def test_bad_messages_are_refused_before_the_model(api, alice, upstream, settings, body, fragment):
    settings.CHAT_MAX_MESSAGE_CHARS = 40000
    conversation_id = _new_conversation(api, alice)
    response = api.post(f"/v1/chat/conversations/{conversation_id}/messages", body, format="json", **alice.headers)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]
    assert upstream.chat_requests == []
    assert Message.objects.filter(conversation_id=conversation_id).count() == 0


@pytest.mark.parametrize(
    ("behaviour", "status", "code", "partial"),
    [
        (error(500), 502, "upstream_error", ""),
        (error(429, headers={"Retry-After": "1"}), 502, "upstream_error", ""),
        (break_after(2), 502, "upstream_error", "d0d1"),
        (malformed_after(2), 502, "upstream_error", "d0d1"),
        (stall_after(2), 504, "upstream_timeout", "d0d1"),
        (delay_first_byte(3), 504, "upstream_timeout", ""),
    ],
)
def test_upstream_failures_are_clear_and_keep_what_arrived(
    api, alice, upstream, settings, behaviour, status, code, partial
):
    # given
    settings.OPENAI_IDLE_TIMEOUT = 0.5
    settings.OPENAI_FIRST_TOKEN_TIMEOUT = 1.0
    conversation_id = _new_conversation(api, alice)
    upstream.enqueue(behaviour.but(deltas=("d0", "d1", "d2", "d3")) if behaviour.kind == "reply" else behaviour)
    # when
    response = api.post(
        f"/v1/chat/conversations/{conversation_id}/messages", {"content": "hi"}, format="json", **alice.headers
    )
    # then
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    user_message, assistant = Message.objects.filter(conversation_id=conversation_id).order_by("created_at")
    assert user_message.content == "hi" and user_message.role == "user"
    assert assistant.status == "failed" and assistant.content == partial
    assert assistant.error_code == code


def test_no_usable_provider_is_503(api, alice, settings):
    settings.CHAT_PROVIDER = "openai"
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    from shared_apps.chat.providers import openai_provider

    openai_provider.reset_clients()
    conversation_id = _new_conversation(api, alice)
    response = api.post(
        f"/v1/chat/conversations/{conversation_id}/messages", {"content": "hi"}, format="json", **alice.headers
    )
    assert response.status_code == 503
    assert Message.objects.filter(conversation_id=conversation_id, role="user").count() == 1


def test_messages_per_minute_limit(api, alice, upstream, settings):
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 2
    conversation_id = _new_conversation(api, alice)
    codes = [
        api.post(
            f"/v1/chat/conversations/{conversation_id}/messages", {"content": "hi"}, format="json", **alice.headers
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in codes] == [201, 201, 429]
    assert int(codes[2]["Retry-After"]) >= 1
    assert len(upstream.chat_requests) == 2


def test_daily_token_budget(api, alice, upstream, settings):
    settings.CHAT_RATE_TOKENS_PER_DAY = 10
    conversation_id = _new_conversation(api, alice)
    upstream.enqueue(reply(["a"], usage={"prompt_tokens": 8, "completion_tokens": 4, "total_tokens": 12}))
    ok = api.post(
        f"/v1/chat/conversations/{conversation_id}/messages", {"content": "hi"}, format="json", **alice.headers
    )
    over = api.post(
        f"/v1/chat/conversations/{conversation_id}/messages", {"content": "hi"}, format="json", **alice.headers
    )
    assert ok.status_code == 201 and over.status_code == 429
    assert over.json()["error"]["code"] == "rate_limited"


def test_seed_endpoints(api, alice, upstream):
    upstream.enqueue(reply(["Hi", " there"], usage={"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}))
    ai = api.post("/v1/chat/ai", {"message": "hello"}, format="json", **alice.headers)
    assert ai.status_code == 200, ai.json()
    body = ai.json()
    assert body["ai_message"] == "Hi there" and body["tokens_used"] == 5 and body["model_used"] == "gpt-4o-mini"
    conversation_id = body["conversation_id"]
    sent = api.post(
        "/v1/chat/message", {"message": "note", "conversation_id": conversation_id}, format="json", **alice.headers
    )
    assert sent.status_code == 200  # the seed's status
    assert sent.json()["is_ai_response"] is False and sent.json()["message"]["content"] == "note"
    history = api.get(f"/v1/chat/history/{conversation_id}?limit=10", **alice.headers).json()
    assert history["total"] == 3 and history["conversation_id"] == conversation_id
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "user"]
    assert set(history["messages"][0]) == {"id", "user_id", "content", "role", "created_at", "updated_at"}
    listed = api.get(f"/v1/chat/conversations/{conversation_id}/messages", **alice.headers).json()
    assert listed["messages"][1]["status"] == "complete"


def test_local_provider_answers_offline(api, alice, settings):
    settings.CHAT_PROVIDER = "local"
    response = api.post("/v1/chat/ai", {"message": "ping"}, format="json", **alice.headers)
    assert response.status_code == 200
    assert response.json()["model_used"] == "local-echo"
    assert "ping" in response.json()["ai_message"]


def test_correlation_id_reaches_the_model_api_and_comes_back(api, alice, upstream):
    upstream.enqueue(reply(["ok"]))
    response = api.post(
        "/v1/chat/ai", {"message": "hi"}, format="json", HTTP_X_REQUEST_ID="req-abc-123", **alice.headers
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-abc-123"
    assert upstream.chat_requests[0].request_id == "req-abc-123"


def test_limits_fail_open_when_the_cache_is_down(api, alice, upstream, settings):
    from django.core.cache import caches

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    caches["default"].close()
    upstream.enqueue(reply(["still here"]))
    response = api.post("/v1/chat/ai", {"message": "hi"}, format="json", **alice.headers)
    assert response.status_code == 200
    assert response.json()["ai_message"] == "still here"
