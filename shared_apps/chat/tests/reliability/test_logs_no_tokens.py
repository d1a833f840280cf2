"""No access token in the chat service's logs: a websocket session (header auth and first-frame
auth, a streamed reply, a bad frame), REST calls (good token, a tampered token, a token in a
JSON body where it does not belong) and gRPC calls, with every logger at DEBUG; both the log
records (caplog) and what the handlers wrote to stdout/stderr (capfd) are searched for the
token and for its signature alone."""

from __future__ import annotations

import logging

import grpc
import pytest
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from chat_site.asgi import application
from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.models import Message
from shared_apps.chat.tests.reliability.conftest import connect, frames_until

pytestmark = pytest.mark.django_db(transaction=True)


async def _websocket_session(alice):
    ws = connect(alice)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "message", "content": "hello"})
    assert (await frames_until(ws))[-1]["type"] == "done"
    await ws.send_json_to({"type": "auth", "token": alice.access})  # a second auth frame: refused, logged?
    await ws.send_to(text_data="not json " + alice.access)
    await ws.receive_from(timeout=5)
    await ws.disconnect()
    browser = WebsocketCommunicator(application, "/ws/chat/")  # first-frame auth
    assert (await browser.connect())[0]
    await browser.send_json_to({"type": "auth", "token": alice.access})
    await browser.send_json_to({"type": "message", "content": "from a browser"})
    assert (await frames_until(browser))[-1]["type"] == "done"
    await browser.disconnect()


async def test_no_access_token_in_logs(alice, bob, upstream, grpc_channel, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    await _websocket_session(alice)

    def rest_and_grpc():
        api = APIClient()
        conversation = api.post("/v1/chat/conversations", {"title": "t"}, format="json", **alice.headers).json()["id"]
        assert (
            api.post(
                f"/v1/chat/conversations/{conversation}/messages", {"content": "x"}, format="json", **alice.headers
            ).status_code
            == 201
        )
        assert api.get("/v1/chat/conversations", HTTP_AUTHORIZATION=f"Bearer {alice.access}x").status_code == 401
        assert api.get("/v1/chat/conversations", HTTP_AUTHORIZATION=f"Token {alice.access}").status_code == 401
        api.post("/v1/chat/message", {"message": "m", "conversation_id": alice.access}, format="json", **alice.headers)
        api.get(f"/v1/chat/conversations/{conversation}", **bob.headers)  # 404 for another user
        chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
        chat.SendMessage(chat_pb2.ChatRequest(message="g", conversation_id=conversation), metadata=alice.metadata)
        with pytest.raises(grpc.RpcError):
            chat.ListConversations(
                chat_pb2.ListConversationsRequest(), metadata=(("authorization", f"Bearer {alice.access}x"),)
            )
        return conversation

    import asyncio

    conversation = await asyncio.to_thread(rest_and_grpc)
    out, err = capfd.readouterr()
    records = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert len(caplog.records) > 20  # the session was logged
    signature = alice.access.rsplit(".", 1)[-1]
    for text in (records, caplog.text, out, err):
        assert alice.access not in text
        assert signature not in text
        assert bob.access.rsplit(".", 1)[-1] not in text
    # and what the user sent is stored
    count = await asyncio.to_thread(lambda: Message.objects.filter(conversation_id=conversation, role="user").count())
    assert count == 2
