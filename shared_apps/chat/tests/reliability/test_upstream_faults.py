"""Upstream failures over the websocket and gRPC (REST is covered in test_rest_replies.py):
what the client sees, what stays stored, and that the next message works without a restart."""

from __future__ import annotations

import grpc
import pytest
from channels.db import database_sync_to_async

from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.models import Message
from shared_apps.chat.tests.reliability.conftest import connect, frames_until
from testkit.fake_openai import break_after, error, malformed_after, reply, stall_after

pytestmark = pytest.mark.django_db(transaction=True)

FAULTS = {
    "500": (lambda: error(500), "upstream_error", 0),
    "429": (lambda: error(429, headers={"Retry-After": "1"}), "upstream_error", 0),
    "timeout": (lambda: stall_after(2, then=None), "upstream_timeout", 2),
    "broken": (lambda: break_after(3), "upstream_error", 3),
    "malformed": (lambda: malformed_after(2), "upstream_error", 2),
}


def _behaviour(name):
    behaviour = FAULTS[name][0]()
    return behaviour


@pytest.fixture
def short_timeouts(settings, upstream):
    settings.OPENAI_IDLE_TIMEOUT = 0.5
    settings.OPENAI_FIRST_TOKEN_TIMEOUT = 0.5
    return upstream


@pytest.mark.parametrize("http_client", ["aiohttp", "httpx"])  # the SDK's two transports (OPENAI_HTTP_CLIENT)
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_websocket_sees_an_error_frame_and_keeps_what_arrived(
    alice, short_timeouts, fault, http_client, settings
):
    settings.OPENAI_HTTP_CLIENT = http_client
    upstream = short_timeouts
    behaviour, code, kept = FAULTS[fault][0](), FAULTS[fault][1], FAULTS[fault][2]
    upstream.enqueue(behaviour)
    ws = connect(alice)
    assert (await ws.connect())[0]
    # when
    await ws.send_json_to({"type": "message", "content": f"fault {fault}"})
    frames = await frames_until(ws)
    # then: an error frame with a code the client can act on, and the rows are there
    assert frames[-1]["type"] == "error" and frames[-1]["code"] == code, frames[-1]
    deltas = [f for f in frames if f["type"] == "delta"]
    assert len(deltas) == kept
    start = next(f for f in frames if f["type"] == "start")
    stored = await database_sync_to_async(Message.objects.get)(id=start["message_id"])
    assert stored.status == Message.Status.FAILED and stored.content == "".join(d["content"] for d in deltas)
    user = await database_sync_to_async(Message.objects.get)(id=frames[0]["user_message"]["id"])
    assert user.content == f"fault {fault}"
    # and the same socket works for the next message
    upstream.enqueue(reply(["ok"]))
    await ws.send_json_to({"type": "message", "content": "again"})
    assert (await frames_until(ws))[-1]["type"] == "done"
    await ws.disconnect()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_grpc_stream_ends_unavailable_or_deadline_and_keeps_what_arrived(grpc_channel, alice, short_timeouts, fault):
    upstream = short_timeouts
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    upstream.enqueue(FAULTS[fault][0]())
    events = []
    with pytest.raises(grpc.RpcError) as exc:
        for event in chat.StreamChatWithAI(
            chat_pb2.ChatWithAIRequest(message=f"fault {fault}"), metadata=alice.metadata
        ):
            events.append(event)
    assert exc.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), exc.value.code()
    start = next(e.start for e in events if e.HasField("start"))
    deltas = [e.delta.content for e in events if e.HasField("delta")]
    assert len(deltas) == FAULTS[fault][2]
    stored = Message.objects.get(id=start.message_id)
    assert stored.status == Message.Status.FAILED and stored.content == "".join(deltas)
    # unary ChatWithAI maps the same way, and the next call works
    upstream.enqueue(FAULTS[fault][0]())
    with pytest.raises(grpc.RpcError) as exc:
        chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="unary"), metadata=alice.metadata)
    assert exc.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    upstream.enqueue(reply(["fine"]))
    assert chat.ChatWithAI(chat_pb2.ChatWithAIRequest(message="next"), metadata=alice.metadata).ai_message == "fine"
