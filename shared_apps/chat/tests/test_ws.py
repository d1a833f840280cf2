"""Websocket: the frame protocol, auth, cancel, resume, through Channels'
communicator against the real ASGI application."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat_site.asgi import application
from shared_apps.chat.models import Message
from testkit.fake_openai import reply, stall_after

pytestmark = pytest.mark.django_db(transaction=True)


def connect(who=None, *, origin: str | None = None) -> WebsocketCommunicator:
    headers = []
    if who is not None:
        headers.append((b"authorization", f"Bearer {who.access}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, "/ws/chat/", headers=headers)


async def receive_until(ws: WebsocketCommunicator, kinds: set[str], timeout: float = 5) -> list[dict]:
    frames = []
    while True:
        frame = json.loads(await ws.receive_from(timeout=timeout))
        frames.append(frame)
        if frame["type"] in kinds:
            return frames


async def test_message_streams_ack_start_deltas_done(alice, upstream):
    # given
    upstream.enqueue(
        reply(["Hel", "lo", " world"], usage={"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7})
    )
    ws = connect(alice)
    connected, _ = await ws.connect()
    assert connected
    # when
    await ws.send_json_to({"type": "message", "content": "hi", "client_message_id": "m1"})
    frames = await receive_until(ws, {"done", "error"})
    # then
    kinds = [f["type"] for f in frames]
    assert kinds == ["ack", "start", "delta", "delta", "delta", "done"]
    ack, start, *deltas, done = frames
    assert ack["user_message"]["content"] == "hi" and ack["conversation_id"]
    assert [d["seq"] for d in deltas] == [1, 2, 3]
    assert "".join(d["content"] for d in deltas) == "Hello world"
    assert all(d["message_id"] == start["message_id"] for d in deltas)
    assert done["message"]["id"] == start["message_id"] and done["message"]["status"] == "complete"
    assert done["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    stored = await database_sync_to_async(Message.objects.get)(id=start["message_id"])
    assert stored.content == "Hello world"
    await ws.disconnect()


async def test_bad_frames_get_error_frames_and_socket_stays_usable(alice, upstream, settings):
    settings.CHAT_WS_MAX_FRAME_BYTES = 2048
    ws = connect(alice)
    await ws.connect()
    for raw in [
        "not json",
        "[1,2]",
        json.dumps({"type": "dance"}),
        json.dumps({"type": "message", "content": 5}),
        json.dumps({"type": "message", "content": "x" * 4000}),
        json.dumps({"type": "message", "content": " "}),
        json.dumps({"type": "resume", "message_id": "x", "after_seq": -1}),
    ]:
        await ws.send_to(text_data=raw)
        frame = json.loads(await ws.receive_from(timeout=5))
        assert frame["type"] == "error", raw
        assert frame["code"] in {"invalid_frame", "frame_too_large", "invalid_argument"}
    upstream.enqueue(reply(["ok"]))
    await ws.send_json_to({"type": "message", "content": "still there?"})
    frames = await receive_until(ws, {"done"})
    assert frames[-1]["message"]["content"] == "ok"
    await ws.disconnect()


async def test_a_malformed_id_is_invalid_argument_and_an_unknown_one_not_found(alice, upstream):
    # given
    ws = connect(alice)
    await ws.connect()
    for frame, code in [
        ({"type": "message", "content": "x", "conversation_id": "not-a-uuid"}, "invalid_argument"),
        ({"type": "message", "content": "x", "conversation_id": "00000000-0000-0000-0000-000000000000"}, "not_found"),
        ({"type": "resume", "message_id": "zzz", "after_seq": 0}, "invalid_argument"),
        ({"type": "resume", "message_id": "00000000-0000-0000-0000-000000000000", "after_seq": 0}, "not_found"),
    ]:
        # when
        await ws.send_json_to(frame)
        answer = json.loads(await ws.receive_from(timeout=5))
        # then: as the seed's INVALID_ARGUMENT and NOT_FOUND
        assert (answer["type"], answer["code"]) == ("error", code), frame
    assert upstream.chat_requests == []
    await ws.disconnect()


async def test_first_frame_auth_for_browsers(alice, upstream):
    ws = connect(origin="http://127.0.0.1:8083")
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"type": "auth", "token": alice.access})
    upstream.enqueue(reply(["yes"]))
    await ws.send_json_to({"type": "message", "content": "hi"})
    frames = await receive_until(ws, {"done"})
    assert frames[-1]["message"]["content"] == "yes"
    await ws.disconnect()


async def test_bad_token_closes_4401(alice):
    ws = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"authorization", b"Bearer nope")])
    await ws.connect()
    frame = json.loads(await ws.receive_from(timeout=5))
    assert frame["type"] == "error" and frame["code"] == "unauthenticated"
    assert (await ws.receive_output(timeout=5))["code"] == 4401


async def test_no_auth_frame_in_time_closes_4401(settings):
    settings.CHAT_WS_AUTH_TIMEOUT = 0.2
    ws = connect()
    await ws.connect()
    await ws.receive_from(timeout=5)
    assert (await ws.receive_output(timeout=5))["code"] == 4401


async def test_message_before_auth_closes_4401():
    ws = connect()
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "hi"})
    await ws.receive_from(timeout=5)
    assert (await ws.receive_output(timeout=5))["code"] == 4401


async def test_foreign_origin_is_refused(alice):
    ws = connect(alice, origin="https://evil.example")
    connected, _ = await ws.connect()
    assert not connected


async def test_cancel_stops_the_model_and_stores_cancelled(alice, upstream):
    upstream.enqueue(stall_after(2).but(deltas=("a", "b", "c", "d")))
    ws = connect(alice)
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "long story"})
    frames = [json.loads(await ws.receive_from(timeout=5)) for _ in range(4)]  # ack start d1 d2
    message_id = frames[1]["message_id"]
    await ws.send_json_to({"type": "cancel", "message_id": message_id})
    done = (await receive_until(ws, {"done", "error"}))[-1]
    assert done["type"] == "done" and done["message"]["status"] == "cancelled"
    stored = await database_sync_to_async(Message.objects.get)(id=message_id)
    assert stored.status == "cancelled" and stored.content == "ab"
    await ws.disconnect()


async def test_reply_outlives_the_socket_and_resume_fills_the_gap(alice, upstream):
    # given: a reply streaming slowly
    upstream.enqueue(reply([f"w{i} " for i in range(12)], delta_interval=0.05))
    first = connect(alice)
    await first.connect()
    await first.send_json_to({"type": "message", "content": "count"})
    ack, start, d1, d2 = [json.loads(await first.receive_from(timeout=5)) for _ in range(4)]
    message_id = start["message_id"]
    # when: the socket drops, the client reconnects and resumes after what it saw
    await first.disconnect()
    await asyncio.sleep(0.2)
    second = connect(alice)
    await second.connect()
    await second.send_json_to({"type": "resume", "message_id": message_id, "after_seq": d2["seq"]})
    frames = await receive_until(second, {"done", "error"})
    # then: exactly the missing deltas, no gap, no repeat, then done
    seqs = [f["seq"] for f in frames if f["type"] == "delta"]
    assert seqs == list(range(3, 13))
    text = d1["content"] + d2["content"] + "".join(f["content"] for f in frames if f["type"] == "delta")
    assert text == "".join(f"w{i} " for i in range(12))
    assert frames[-1]["type"] == "done" and frames[-1]["message"]["content"] == text
    # and a resume of a finished reply answers done at once
    await second.send_json_to({"type": "resume", "message_id": message_id, "after_seq": 12})
    assert json.loads(await second.receive_from(timeout=5))["type"] == "done"
    await second.disconnect()


async def test_resume_of_another_users_reply_is_not_found(alice, bob, upstream):
    upstream.enqueue(reply(["x"]))
    ws = connect(alice)
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "mine"})
    frames = await receive_until(ws, {"done"})
    await ws.disconnect()
    intruder = connect(bob)
    await intruder.connect()
    for frame in (
        {"type": "resume", "message_id": frames[1]["message_id"], "after_seq": 0},
        {"type": "cancel", "message_id": frames[1]["message_id"]},
        {"type": "message", "content": "hi", "conversation_id": frames[0]["conversation_id"]},
    ):
        await intruder.send_json_to(frame)
        answer = json.loads(await intruder.receive_from(timeout=5))
        assert answer["type"] == "error" and answer["code"] == "not_found"
    await intruder.disconnect()


async def test_repeated_client_message_id_makes_no_second_model_call(alice, upstream):
    upstream.enqueue(reply(["once"]))
    ws = connect(alice)
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "hi", "client_message_id": "dup"})
    first = await receive_until(ws, {"done"})
    conversation_id = first[0]["conversation_id"]
    await ws.send_json_to(
        {"type": "message", "content": "hi", "client_message_id": "dup", "conversation_id": conversation_id}
    )
    second = await receive_until(ws, {"done"})
    assert second[1]["message_id"] == first[1]["message_id"]
    assert second[-1]["message"]["content"] == "once"
    assert len(upstream.chat_requests) == 1
    await ws.disconnect()


async def test_rate_limit_is_an_error_frame(alice, upstream, settings):
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 1
    ws = connect(alice)
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "one"})
    await receive_until(ws, {"done"})
    await ws.send_json_to({"type": "message", "content": "two"})
    frame = json.loads(await ws.receive_from(timeout=5))
    assert frame["type"] == "error" and frame["code"] == "rate_limited"
    assert len(upstream.chat_requests) == 1
    await ws.disconnect()


async def test_deleting_the_conversation_mid_reply_ends_the_stream_cleanly(alice, upstream):
    from shared_apps.chat import services

    upstream.enqueue(reply([f"x{i}" for i in range(10)], delta_interval=0.05))
    ws = connect(alice)
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "long"})
    ack, _start, _d1 = [json.loads(await ws.receive_from(timeout=5)) for _ in range(3)]
    await database_sync_to_async(services.conversation_delete)(
        user_id=alice.user_id, conversation_id=ack["conversation_id"]
    )
    last = (await receive_until(ws, {"done", "error"}))[-1]
    assert last["type"] == "error" and last["code"] == "not_found"
    assert await database_sync_to_async(Message.objects.count)() == 0
    await ws.disconnect()


async def test_cancel_from_another_process_without_redis_stops_the_model(alice, upstream, settings):
    """Without Redis, a process that does not run the reply cancels it in the database
    (``reply_orphan_cancel``); the producing process notices at its next progress save."""
    from shared_apps.chat import services

    settings.REDIS_URL = None
    upstream.enqueue(reply([f"z{i} " for i in range(60)], delta_interval=0.05))
    ws = connect(alice)
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "go on"})
    _ack, start, _d1 = [json.loads(await ws.receive_from(timeout=5)) for _ in range(3)]
    await database_sync_to_async(services.reply_orphan_cancel)(message_id=start["message_id"])
    done = (await receive_until(ws, {"done", "error"}, timeout=10))[-1]
    assert done["type"] == "done" and done["message"]["status"] == "cancelled"
    stored = await database_sync_to_async(Message.objects.get)(id=start["message_id"])
    assert stored.status == "cancelled"
    assert 0 < len(stored.content) < len("".join(f"z{i} " for i in range(60)))
    await ws.disconnect()
