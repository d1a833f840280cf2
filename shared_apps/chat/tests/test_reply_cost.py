"""What one user can make the model cost: every request carries ``max_tokens`` upstream, a
reply has an overall deadline, and a user has a bounded number of replies in flight. Attacked
through the transports, against the fake OpenAI-compatible upstream."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat_site.asgi import application
from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.models import Message
from testkit.fake_openai import reply, stall_after

pytestmark = pytest.mark.django_db(transaction=True)


def connect(who) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {who.access}".encode())]
    )


async def frames_until(ws, kinds=("done", "error"), timeout: float = 10) -> list[dict]:
    frames = []
    while True:
        frames.append(json.loads(await ws.receive_from(timeout=timeout)))
        if frames[-1]["type"] in kinds:
            return frames


def test_max_tokens_always_goes_upstream(api, alice, grpc_channel, upstream, settings):
    # given: a cap on the reply's length, and clients that ask for none
    settings.CHAT_MAX_OUTPUT_TOKENS = 300
    upstream.enqueue(reply(["a"]), reply(["b"]), reply(["c"]))
    # when: a REST reply, a gRPC reply and one with an explicit, smaller max_tokens
    assert api.post("/v1/chat/ai", {"message": "hi"}, format="json", **alice.headers).status_code == 200
    chat_pb2_grpc.ChatServiceStub(grpc_channel).ChatWithAI(
        chat_pb2.ChatWithAIRequest(message="hi"), metadata=alice.metadata
    )
    assert (
        api.post("/v1/chat/ai", {"message": "hi", "max_tokens": 20}, format="json", **alice.headers).status_code == 200
    )
    # then: every request upstream is bounded
    assert [r.json.get("max_tokens") for r in upstream.chat_requests] == [300, 300, 20]


async def test_a_reply_past_its_deadline_ends_failed_with_what_arrived(alice, upstream, settings):
    # given: replies may take a second, and the model keeps talking for four (never idle)
    settings.CHAT_REPLY_MAX_SECONDS = 1.0
    upstream.enqueue(reply([f"w{i} " for i in range(40)], delta_interval=0.1))
    ws = connect(alice)
    assert (await ws.connect())[0]
    # when
    loop = asyncio.get_running_loop()
    started = loop.time()
    await ws.send_json_to({"type": "message", "content": "talk forever"})
    frames = await frames_until(ws)
    elapsed = loop.time() - started
    # then: cut at the deadline, with the deltas that arrived, as upstream_timeout
    deltas = [f for f in frames if f["type"] == "delta"]
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "upstream_timeout", frames[-1]
    assert 0 < len(deltas) < 40 and elapsed < 2.5, (len(deltas), elapsed)
    stored = await database_sync_to_async(Message.objects.get)(id=frames[1]["message_id"])
    assert stored.status == "failed" and stored.error_code == "upstream_timeout"
    assert stored.content == "".join(f["content"] for f in deltas)
    await ws.disconnect()


async def test_replies_in_flight_are_capped_per_user(alice, bob, upstream, settings):
    # given: two replies in flight per user; every model call stalls after one delta
    settings.CHAT_MAX_REPLIES_IN_FLIGHT_PER_USER = 2
    upstream.enqueue(stall_after(1), times=8)
    ws = connect(alice)
    assert (await ws.connect())[0]
    # when: one socket asks for six replies at once
    for i in range(6):
        await ws.send_json_to({"type": "message", "content": f"question {i}"})
    frames = []
    while len([f for f in frames if f["type"] in ("delta", "error")]) < 6:
        frames.append(json.loads(await ws.receive_from(timeout=10)))
    # then: two are started, four refused as rate_limited, and the model was asked twice
    started = [f["message_id"] for f in frames if f["type"] == "start"]
    refused = [f for f in frames if f["type"] == "error"]
    assert len(started) == 2 and len(refused) == 4, frames
    assert {f["code"] for f in refused} == {"rate_limited"}
    await asyncio.sleep(0.2)
    assert len(upstream.chat_requests) == 2
    # and another user still gets a reply started
    other = connect(bob)
    assert (await other.connect())[0]
    await other.send_json_to({"type": "message", "content": "mine"})
    bobs = [json.loads(await other.receive_from(timeout=10)) for _ in range(3)]
    assert [f["type"] for f in bobs] == ["ack", "start", "delta"]
    # and once one of alice's ends (cancelled), she may start another
    await ws.send_json_to({"type": "cancel", "message_id": started[0]})
    await frames_until(ws, kinds=("done",))
    await ws.send_json_to({"type": "message", "content": "one more"})
    ack, start = [json.loads(await ws.receive_from(timeout=10)) for _ in range(2)]
    assert (ack["type"], start["type"]) == ("ack", "start")
    # (the stalled replies are cancelled, not left to the upstream's idle timeout)
    for socket, message_id in ((ws, started[1]), (ws, start["message_id"]), (other, bobs[1]["message_id"])):
        await socket.send_json_to({"type": "cancel", "message_id": message_id})
    await asyncio.sleep(0.2)
    await ws.disconnect()
    await other.disconnect()
