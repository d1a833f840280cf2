"""With Redis, a reply produced by one chat process reaches clients of another: a socket
that resumes there, and a StreamMessages follower. Needs a real Redis (REDIS_URL)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time

import grpc
import pytest
import websockets
from channels.testing import WebsocketCommunicator
from django.conf import settings

from chat_site.asgi import application
from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.tests.conftest import chat_asgi_process
from testkit.fake_openai import reply

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a real Redis: set REDIS_URL (CI does)"),
]


@pytest.fixture
def other_chat_process(upstream, auth_service):
    """A second chat ASGI process (uvicorn) sharing the database, Redis and upstream."""
    process, url = chat_asgi_process(upstream=upstream, auth_service=auth_service, redis_url=settings.REDIS_URL)
    yield url
    process.terminate()
    process.wait(timeout=15)


async def test_resume_on_another_process_gets_exactly_the_missing_deltas(alice, upstream, other_chat_process):
    # given: a slow reply produced by this process
    expected = [f"t{i} " for i in range(15)]
    upstream.enqueue(reply(expected, delta_interval=0.06))
    here = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {alice.access}".encode())]
    )
    await here.connect()
    await here.send_json_to({"type": "message", "content": "go"})
    ack, start, d1, d2, d3 = [json.loads(await here.receive_from(timeout=5)) for _ in range(5)]
    await here.disconnect()
    # when: the client comes back on the other process and resumes after seq 3
    async with websockets.connect(
        other_chat_process, additional_headers={"Authorization": f"Bearer {alice.access}"}
    ) as there:
        await there.send(json.dumps({"type": "resume", "message_id": start["message_id"], "after_seq": d3["seq"]}))
        frames = []
        while True:
            frame = json.loads(await asyncio.wait_for(there.recv(), timeout=10))
            frames.append(frame)
            if frame["type"] in ("done", "error"):
                break
    # then
    deltas = [f for f in frames if f["type"] == "delta"]
    assert [f["seq"] for f in deltas] == list(range(4, 16))
    text = "".join(f["content"] for f in (d1, d2, d3, *deltas))
    assert text == "".join(expected)
    assert frames[-1]["type"] == "done" and frames[-1]["message"]["content"] == text


def test_follower_here_sees_a_reply_produced_there(alice, upstream, other_chat_process, grpc_channel):
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    conversation = chat.CreateConversation(chat_pb2.Conversation(title="x"), metadata=alice.metadata)
    chat.SendMessage(chat_pb2.ChatRequest(message="stored", conversation_id=conversation.id), metadata=alice.metadata)
    stream = chat.StreamMessages(
        chat_pb2.StreamMessageRequest(conversation_id=conversation.id, follow=True), metadata=alice.metadata
    )
    received: list = []
    threading.Thread(target=lambda: [received.append(r) for r in _safe(stream)], daemon=True).start()
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:  # stored messages come after the subscription
        time.sleep(0.02)
    assert received[0].message.content == "stored"

    async def produce_there():
        async with websockets.connect(
            other_chat_process, additional_headers={"Authorization": f"Bearer {alice.access}"}
        ) as ws:
            await ws.send(json.dumps({"type": "message", "content": "hi", "conversation_id": conversation.id}))
            while json.loads(await asyncio.wait_for(ws.recv(), timeout=10))["type"] not in ("done", "error"):
                pass

    upstream.enqueue(reply(["p", "q", "r"], delta_interval=0.2))
    asyncio.run(produce_there())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        r.HasField("message") and r.message.role == "assistant" and r.message.status == "complete" for r in received
    ):
        time.sleep(0.05)
    stream.cancel()
    deltas = [r.delta for r in received if r.HasField("delta")]
    assert [d.seq for d in deltas] == [1, 2, 3] and "".join(d.content for d in deltas) == "pqr"
    assert [r.message.content for r in received if r.HasField("message")][-1] == "pqr"
    assert received[-1].HasField("message")  # the final message comes after the last delta


def _safe(stream):
    try:
        yield from stream
    except grpc.RpcError:
        return
