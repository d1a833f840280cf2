"""gRPC: chat.ChatService through a real channel to a real server (all interceptors)."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.models import Message
from testkit.fake_openai import error, reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chat(grpc_channel):
    return chat_pb2_grpc.ChatServiceStub(grpc_channel)


def test_unauthenticated_calls_are_refused(chat):
    with pytest.raises(grpc.RpcError) as exc:
        chat.ListConversations(chat_pb2.ListConversationsRequest())
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as exc:
        chat.ListConversations(chat_pb2.ListConversationsRequest(), metadata=(("authorization", "Bearer x.y.z"),))
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_create_list_send_history(chat, alice):
    created = chat.CreateConversation(chat_pb2.Conversation(title="grpc"), metadata=alice.metadata)
    assert created.id and created.title == "grpc" and created.created_at.seconds > 0
    listed = chat.ListConversations(chat_pb2.ListConversationsRequest(limit=10), metadata=alice.metadata)
    assert listed.total == 1 and listed.conversations[0].id == created.id
    sent = chat.SendMessage(chat_pb2.ChatRequest(message="hello", conversation_id=created.id), metadata=alice.metadata)
    assert sent.is_ai_response is False and sent.message.content == "hello" and sent.conversation_id == created.id
    history = chat.GetHistory(chat_pb2.GetHistoryRequest(conversation_id=created.id), metadata=alice.metadata)
    assert history.total == 1 and history.messages[0].role == "user"


def test_errors_map_to_codes(chat, alice, bob):
    created = chat.CreateConversation(chat_pb2.Conversation(title="mine"), metadata=alice.metadata)
    for call, request in [
        (chat.GetHistory, chat_pb2.GetHistoryRequest(conversation_id=created.id)),
        (chat.SendMessage, chat_pb2.ChatRequest(message="x", conversation_id=created.id)),
    ]:
        with pytest.raises(grpc.RpcError) as exc:
            call(request, metadata=bob.metadata)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    # a malformed id is the seed's INVALID_ARGUMENT, on every RPC that takes one
    for call, request in [
        (chat.GetHistory, chat_pb2.GetHistoryRequest(conversation_id="not-a-uuid")),
        (chat.GetHistory, chat_pb2.GetHistoryRequest()),
        (chat.SendMessage, chat_pb2.ChatRequest(message="x", conversation_id="not-a-uuid")),
        (chat.ChatWithAI, chat_pb2.ChatWithAIRequest(message="x", conversation_id="not-a-uuid")),
        (lambda r, **kw: list(chat.StreamMessages(r, **kw)), chat_pb2.StreamMessageRequest(conversation_id="x")),
        (
            lambda r, **kw: list(chat.StreamChatWithAI(r, **kw)),
            chat_pb2.ChatWithAIRequest(message="x", conversation_id="x"),
        ),
    ]:
        with pytest.raises(grpc.RpcError) as exc:
            call(request, metadata=alice.metadata, timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
    with pytest.raises(grpc.RpcError) as exc:
        chat.SendMessage(chat_pb2.ChatRequest(message="  "), metadata=alice.metadata)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as exc:
        chat.ListConversations(chat_pb2.ListConversationsRequest(limit=1000), metadata=alice.metadata)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_chat_with_ai(chat, alice, upstream):
    upstream.enqueue(reply(["4"], usage={"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}))
    response = chat.ChatWithAI(
        chat_pb2.ChatWithAIRequest(message="2+2?", temperature=0.5, max_tokens=10), metadata=alice.metadata
    )
    assert response.ai_message == "4" and response.tokens_used == 6 and response.model_used == "gpt-4o-mini"
    sent = upstream.chat_requests[0].json
    assert sent["temperature"] == 0.5 and sent["max_tokens"] == 10


def test_chat_with_ai_upstream_down_is_unavailable(chat, alice, upstream):
    upstream.enqueue(error(500))
    with pytest.raises(grpc.RpcError) as exc:
        chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="hi"), metadata=alice.metadata)
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
    assert Message.objects.filter(role="assistant", status="failed").count() == 1


def test_stream_chat_with_ai(chat, alice, upstream):
    upstream.enqueue(reply(["a", "b", "c"]))
    events = list(chat.StreamChatWithAI(chat_pb2.ChatWithAIRequest(message="abc"), metadata=alice.metadata))
    kinds = [e.WhichOneof("event") for e in events]
    assert kinds == ["ack", "start", "delta", "delta", "delta", "done"]
    assert [e.delta.seq for e in events[2:5]] == [1, 2, 3]
    assert events[-1].done.message.content == "abc" and events[-1].done.message.status == "complete"
    assert events[-1].done.message.id == events[1].start.message_id


def test_stream_messages_sends_the_stored_messages_then_is_end_and_ends(chat, alice, upstream):
    # given: a conversation with a user message and a reply
    created = chat.CreateConversation(chat_pb2.Conversation(title="seed"), metadata=alice.metadata)
    chat.SendMessage(chat_pb2.ChatRequest(message="first", conversation_id=created.id), metadata=alice.metadata)
    upstream.enqueue(reply(["x", "y"]))
    chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="second", conversation_id=created.id), metadata=alice.metadata)
    # when: read to the end, as the seed's clients do (no follow)
    frames = list(
        chat.StreamMessages(
            chat_pb2.StreamMessageRequest(conversation_id=created.id), metadata=alice.metadata, timeout=5
        )
    )
    # then: one frame a stored message, oldest first, then is_end alone; never a delta
    assert [(f.message.role, f.message.content, f.is_end) for f in frames[:-1]] == [
        ("user", "first", False),
        ("user", "second", False),
        ("assistant", "xy", False),
    ]
    assert frames[-1].is_end is True and not frames[-1].HasField("message")
    assert not any(f.HasField("delta") for f in frames)
    # and an empty conversation is the is_end frame alone
    empty = chat.CreateConversation(chat_pb2.Conversation(title="empty"), metadata=alice.metadata)
    only = list(chat.StreamMessages(chat_pb2.StreamMessageRequest(conversation_id=empty.id), metadata=alice.metadata))
    assert [f.is_end for f in only] == [True]


def test_stream_messages_with_follow_sends_stored_then_follows_live(chat, alice, upstream):
    # given: a conversation with one stored message, and a follower
    created = chat.CreateConversation(chat_pb2.Conversation(title="live"), metadata=alice.metadata)
    chat.SendMessage(chat_pb2.ChatRequest(message="first", conversation_id=created.id), metadata=alice.metadata)
    stream = chat.StreamMessages(
        chat_pb2.StreamMessageRequest(conversation_id=created.id, follow=True), metadata=alice.metadata
    )
    received: list = []

    def follow():
        try:
            for item in stream:
                received.append(item)
        except grpc.RpcError:
            pass

    thread = threading.Thread(target=follow)
    thread.start()
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    # when: a reply is produced in the conversation
    upstream.enqueue(reply(["x", "y"]))
    chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="second", conversation_id=created.id), metadata=alice.metadata)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        r.message.role == "assistant" and r.message.status == "complete" for r in received
    ):
        time.sleep(0.02)
    stream.cancel()
    thread.join(5)
    # then
    assert received[0].message.content == "first"
    contents = [(r.message.role, r.message.content, r.message.status) for r in received if r.HasField("message")]
    assert ("user", "second", "complete") in contents
    assert contents[-1] == ("assistant", "xy", "complete")
    deltas = [r.delta for r in received if r.HasField("delta")]
    assert [d.content for d in deltas] == ["x", "y"] and [d.seq for d in deltas] == [1, 2]
    assert not any(r.is_end for r in received)


def test_stream_messages_of_another_user_is_not_found(chat, alice, bob):
    created = chat.CreateConversation(chat_pb2.Conversation(title="x"), metadata=alice.metadata)
    with pytest.raises(grpc.RpcError) as exc:
        list(chat.StreamMessages(chat_pb2.StreamMessageRequest(conversation_id=created.id), metadata=bob.metadata))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND


def test_rate_limit_is_resource_exhausted(chat, alice, upstream, settings):
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 1
    chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="one"), metadata=alice.metadata)
    with pytest.raises(grpc.RpcError) as exc:
        chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="two"), metadata=alice.metadata)
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(dict(exc.value.trailing_metadata())["retry-after"]) >= 1


def test_model_not_allowed_is_invalid_argument(chat, alice, upstream):
    with pytest.raises(grpc.RpcError) as exc:
        chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="hi", model="gpt-secret"), metadata=alice.metadata)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not allowed" in exc.value.details()
    assert upstream.chat_requests == []


def test_streams_beyond_the_limit_are_refused_and_health_still_answers(chat, grpc_channel, alice, settings):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    import shared_apps.chat.grpc_api.servicers as servicers

    settings.GRPC_MAX_STREAMS = 1
    servicers._stream_slots = None
    try:
        created = chat.CreateConversation(chat_pb2.Conversation(title="x"), metadata=alice.metadata)
        chat.SendMessage(chat_pb2.ChatRequest(message="m", conversation_id=created.id), metadata=alice.metadata)
        request = chat_pb2.StreamMessageRequest(conversation_id=created.id, follow=True)
        first = chat.StreamMessages(request, metadata=alice.metadata)
        assert next(first).message.content == "m"  # holds the only stream slot
        with pytest.raises(grpc.RpcError) as exc:
            next(chat.StreamMessages(request, metadata=alice.metadata))
        assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        health = health_pb2_grpc.HealthStub(grpc_channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        first.cancel()
    finally:
        servicers._stream_slots = None
