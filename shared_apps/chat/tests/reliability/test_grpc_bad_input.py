"""gRPC requests with wrong types, undecodable bytes, huge fields and bad UUIDs: a status a
client can act on, never INTERNAL or UNKNOWN."""

from __future__ import annotations

import grpc
import pytest

from protos import chat_pb2, chat_pb2_grpc

pytestmark = pytest.mark.django_db(transaction=True)

NEVER = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
HUGE = "x" * 200_000
BAD_IDS = ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "1" * 5000, "\x00", "' OR 1=1 --", "é" * 40]


def _code(call) -> grpc.StatusCode:
    try:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            for _ in result:
                pass
        return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        return exc.code()


def test_bad_fields_are_never_internal(grpc_channel, alice, upstream):
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    md = alice.metadata
    calls = []
    for bad in BAD_IDS:
        calls += [
            lambda b=bad: chat.GetHistory(chat_pb2.GetHistoryRequest(conversation_id=b), metadata=md),
            lambda b=bad: chat.SendMessage(chat_pb2.ChatRequest(message="hi", conversation_id=b), metadata=md),
            lambda b=bad: chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="hi", conversation_id=b), metadata=md),
            lambda b=bad: chat.StreamChatWithAI(
                chat_pb2.ChatWithAIRequest(message="hi", conversation_id=b), metadata=md
            ),
            lambda b=bad: chat.StreamMessages(chat_pb2.StreamMessageRequest(conversation_id=b), metadata=md, timeout=2),
        ]
    calls += [
        lambda: chat.SendMessage(chat_pb2.ChatRequest(message=HUGE), metadata=md),
        lambda: chat.SendMessage(chat_pb2.ChatRequest(message=""), metadata=md),
        lambda: chat.SendMessage(chat_pb2.ChatRequest(message="nul \x00 inside"), metadata=md),
        lambda: chat.CreateConversation(chat_pb2.Conversation(title=HUGE), metadata=md),
        lambda: chat.CreateConversation(chat_pb2.Conversation(title="nul \x00"), metadata=md),
        lambda: chat.ListConversations(chat_pb2.ListConversationsRequest(limit=-5, offset=-1), metadata=md),
        lambda: chat.ListConversations(
            chat_pb2.ListConversationsRequest(limit=2**31 - 1, offset=2**31 - 1), metadata=md
        ),
        lambda: chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="hi", temperature=-3), metadata=md),
        lambda: chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="hi", max_tokens=-1), metadata=md),
        lambda: chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="hi", model="x" * 1000), metadata=md),
        lambda: chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="hi", client_message_id="c" * 1000), metadata=md),
        lambda: chat.StreamChatWithAI(chat_pb2.ChatWithAIRequest(message=HUGE), metadata=md),
    ]
    codes = [_code(call) for call in calls]
    assert not NEVER & set(codes), codes
    assert grpc.StatusCode.INVALID_ARGUMENT in codes and grpc.StatusCode.NOT_FOUND in codes


def test_wrong_wire_types_are_never_internal(grpc_channel, alice):
    """Fields sent with the wrong wire type (a string where an int is declared and the reverse)
    decode as unknown fields; our code must then answer as for a missing field. Bytes that do
    not decode at all are INVALID_ARGUMENT (``test_hostile_input.py``)."""
    wrong_types = [
        b"\x08\x96\x01",
        b"\x0a\x03abc",
        b"\x10\x01",
        b"\x12\x03abc",
        b"\x1a\x00",
        b"\x25\x00\x00\x80\x7f",
        b"\x28\xff\xff\xff\xff\x0f",
    ]
    methods = ["ListConversations", "GetHistory", "SendMessage", "CreateConversation", "ChatWithAI"]
    codes = {}
    for method in methods:
        call = grpc_channel.unary_unary(
            f"/chat.ChatService/{method}", request_serializer=None, response_deserializer=None
        )
        for payload in wrong_types:
            try:
                call(payload, metadata=alice.metadata, timeout=10)
                codes[(method, payload)] = grpc.StatusCode.OK
            except grpc.RpcError as exc:
                codes[(method, payload)] = exc.code()
    assert not NEVER & set(codes.values()), {k: v for k, v in codes.items() if v in NEVER}
    # undecodable bytes: INVALID_ARGUMENT, and the server keeps serving
    call = grpc_channel.unary_unary(
        "/chat.ChatService/ListConversations", request_serializer=None, response_deserializer=None
    )
    with pytest.raises(grpc.RpcError) as caught:
        call(b"\xff" * 10, metadata=alice.metadata, timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    ok = chat_pb2_grpc.ChatServiceStub(grpc_channel).ListConversations(
        chat_pb2.ListConversationsRequest(), metadata=alice.metadata
    )
    assert ok.total >= 0
