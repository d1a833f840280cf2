"""OWASP API1 (broken object-level authorization): Bob reaches none of Alice's conversations
or replies on any endpoint, RPC or frame; it looks exactly like a missing one (404/NOT_FOUND/
``not_found``), and nothing of Alice's changes."""

from __future__ import annotations

import grpc
import pytest
from channels.db import database_sync_to_async

from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.tests.reliability.conftest import connect, frames_until
from testkit.fake_openai import reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alices(api, alice, upstream):
    upstream.enqueue(reply(["secret ", "answer"]))
    response = api.post("/v1/chat/conversations", {"title": "alice only"}, format="json", **alice.headers)
    conversation_id = response.json()["id"]
    sent = api.post(
        f"/v1/chat/conversations/{conversation_id}/messages",
        {"content": "secret question"},
        format="json",
        **alice.headers,
    )
    assert sent.status_code == 201
    return conversation_id, sent.json()["assistant_message"]["id"]


def test_rest_every_conversation_endpoint_is_404_for_another_user(api, bob, alices):
    conversation_id, _ = alices
    calls = [
        ("get", f"/v1/chat/conversations/{conversation_id}", None),
        ("patch", f"/v1/chat/conversations/{conversation_id}", {"title": "pwned"}),
        ("delete", f"/v1/chat/conversations/{conversation_id}", None),
        ("get", f"/v1/chat/conversations/{conversation_id}/messages", None),
        ("post", f"/v1/chat/conversations/{conversation_id}/messages", {"content": "hi"}),
        ("post", "/v1/chat/message", {"message": "hi", "conversation_id": conversation_id}),
        ("post", "/v1/chat/ai", {"message": "hi", "conversation_id": conversation_id}),
        ("get", f"/v1/chat/history/{conversation_id}", None),
    ]
    for method, path, body in calls:
        response = getattr(api, method)(path, body, format="json", **bob.headers)
        assert response.status_code == 404, (method, path, response.status_code)
        assert "secret" not in response.content.decode()
    listed = api.get("/v1/chat/conversations", **bob.headers).json()
    assert listed["total"] == 0
    # nothing of Alice's changed
    conversation = Conversation.objects.get(id=conversation_id)
    assert conversation.title == "alice only" and conversation.messages.count() == 2


def test_grpc_every_conversation_rpc_is_not_found_for_another_user(grpc_channel, bob, alices):
    conversation_id, _ = alices
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    md = bob.metadata
    calls = [
        lambda: chat.GetHistory(chat_pb2.GetHistoryRequest(conversation_id=conversation_id), metadata=md),
        lambda: chat.SendMessage(chat_pb2.ChatRequest(message="hi", conversation_id=conversation_id), metadata=md),
        lambda: chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="hi", conversation_id=conversation_id), metadata=md),
        lambda: list(
            chat.StreamChatWithAI(
                chat_pb2.ChatWithAIRequest(message="hi", conversation_id=conversation_id), metadata=md
            )
        ),
        lambda: list(
            chat.StreamMessages(chat_pb2.StreamMessageRequest(conversation_id=conversation_id), metadata=md, timeout=5)
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as exc:
            call()
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert chat.ListConversations(chat_pb2.ListConversationsRequest(), metadata=md).total == 0
    assert Message.objects.filter(conversation_id=conversation_id).count() == 2


async def test_websocket_frames_cannot_touch_another_users_conversation_or_reply(bob, alices):
    conversation_id, reply_id = alices
    ws = connect(bob)
    assert (await ws.connect())[0]
    for frame in (
        {"type": "message", "content": "hi", "conversation_id": conversation_id},
        {"type": "resume", "message_id": reply_id, "after_seq": 0},
        {"type": "cancel", "message_id": reply_id},
    ):
        await ws.send_json_to(frame)
        frames = await frames_until(ws, kinds=("error", "done"))
        assert frames[-1]["type"] == "error" and frames[-1]["code"] == "not_found", (frame, frames)
        assert not any("secret" in str(f) for f in frames)
    await ws.disconnect()
    stored = await database_sync_to_async(Message.objects.get)(id=reply_id)
    assert stored.status == Message.Status.COMPLETE and stored.content == "secret answer"
