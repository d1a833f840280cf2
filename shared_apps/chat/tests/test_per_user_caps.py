"""One account cannot take every stream or socket of a process: open gRPC streams and
websockets are capped per user (GRPC_MAX_STREAMS_PER_USER, CHAT_MAX_SOCKETS_PER_USER); the
next one is refused (RESOURCE_EXHAUSTED, close code 4429) and other users still get theirs."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from channels.testing import WebsocketCommunicator

from chat_site.asgi import application
from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.tests.grpc_streams import FOLLOW, Reader

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def few_stream_slots(settings):
    """A server with 6 stream slots in all, 2 of them per user."""
    import shared_apps.chat.grpc_api.servicers as servicers

    settings.GRPC_MAX_STREAMS = 6
    settings.GRPC_MAX_STREAMS_PER_USER = 2
    servicers._stream_slots = None
    yield
    servicers._stream_slots = None


def follow(chat, who) -> Reader:
    created = chat.CreateConversation(chat_pb2.Conversation(title="x"), metadata=who.metadata)
    chat.SendMessage(chat_pb2.ChatRequest(message="m", conversation_id=created.id), metadata=who.metadata)
    return Reader(
        chat.StreamMessages(chat_pb2.StreamMessageRequest(conversation_id=created.id, **FOLLOW), metadata=who.metadata)
    )


def test_grpc_streams_beyond_the_per_user_cap_are_refused_and_others_still_stream(
    grpc_channel, alice, bob, few_stream_slots
):
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    # given: alice holds her two streams
    held = [follow(chat, alice) for _ in range(2)]
    for reader in held:
        assert reader.first.wait(10) and not reader.ended.is_set()
    # when: she opens more (as one account opening every slot would)
    extra = [follow(chat, alice) for _ in range(4)]
    # then: each is refused at once, RESOURCE_EXHAUSTED
    for reader in extra:
        assert reader.ended.wait(5)
        assert reader.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    # and bob still gets his streams
    bobs = [follow(chat, bob) for _ in range(2)]
    for reader in bobs:
        assert reader.first.wait(10) and not reader.ended.is_set(), reader.code
    # and once alice closes one, she may open one again (as soon as the server has seen it close)
    held[0].call.cancel()
    deadline = time.monotonic() + 3
    while True:
        again = follow(chat, alice)
        assert again.first.wait(10)
        if not again.ended.is_set() or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not again.ended.is_set(), again.code
    for reader in [*held, *bobs, again]:
        reader.call.cancel()


def connect(who) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {who.access}".encode())]
    )


async def refused(ws: WebsocketCommunicator) -> bool:
    frame = json.loads(await ws.receive_from(timeout=5))
    closed = await ws.receive_output(timeout=5)
    return frame["code"] == "rate_limited" and closed["type"] == "websocket.close" and closed["code"] == 4429


async def test_sockets_beyond_the_per_user_cap_are_closed_4429_and_others_still_connect(alice, bob, settings):
    settings.CHAT_MAX_SOCKETS_PER_USER = 2
    # given: alice holds her two sockets
    held = [connect(alice) for _ in range(2)]
    for ws in held:
        assert (await ws.connect())[0]
        assert await ws.receive_nothing(timeout=0.1)
    # when / then: a third is closed with 4429 after one rate_limited frame
    third = connect(alice)
    assert (await third.connect())[0]
    assert await refused(third)
    # and the first-frame (browser) authentication is counted the same way
    browser = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"origin", b"http://127.0.0.1:8083")])
    assert (await browser.connect())[0]
    await browser.send_json_to({"type": "auth", "token": alice.access})
    assert await refused(browser)
    # and bob still connects
    bobs = connect(bob)
    assert (await bobs.connect())[0]
    assert await bobs.receive_nothing(timeout=0.1)
    # and once alice closes one, she may open one again
    await held[0].disconnect()
    again = connect(alice)
    assert (await again.connect())[0]
    assert await again.receive_nothing(timeout=0.1)
    for ws in (held[1], bobs, again):
        await ws.disconnect()
