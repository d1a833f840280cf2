"""A reader that fell behind gets the deltas waiting for it as one frame (``from_seq`` ..
``seq``, content joined); with no backlog, one frame a delta. Nothing is dropped."""

from __future__ import annotations

import asyncio

import pytest

from protos import chat_pb2
from shared_apps.chat.grpc_api.servicers import delta_proto
from shared_apps.chat.reply_log import MemoryReplyLog
from shared_apps.chat.tests.test_ws import connect, receive_until
from testkit.fake_openai import reply


async def _next(frames, timeout: float = 2.0):
    return await asyncio.wait_for(anext(frames), timeout)


async def test_a_reader_behind_gets_one_joined_frame_then_one_frame_a_delta(settings):
    # given: three deltas waiting (older than the threshold) for a reader that coalesces
    settings.CHAT_COALESCE_AFTER_SECONDS = 0.0
    log = MemoryReplyLog()
    entry = log.open("m1", "c1", user_id="u1")
    for text in ("Hel", "lo", " wor"):
        log.append(entry, text)
    frames = log.read(entry, 0, coalesce=True)
    # when it reads
    joined = await _next(frames)
    # then the backlog comes as one frame
    assert joined == {"type": "delta", "message_id": "m1", "seq": 3, "from_seq": 1, "content": "Hello wor"}
    # and once caught up, each new delta is its own frame
    waiting = asyncio.ensure_future(_next(frames))
    await asyncio.sleep(0.01)
    log.append(entry, "ld")
    assert await waiting == {"type": "delta", "message_id": "m1", "seq": 4, "content": "ld"}
    log.finish(entry, {"type": "done"})
    assert await _next(frames) == {"type": "done"}


async def test_a_fresh_backlog_is_not_joined_and_a_plain_reader_never_is(settings):
    # given: two deltas that have waited less than the threshold
    settings.CHAT_COALESCE_AFTER_SECONDS = 30.0
    log = MemoryReplyLog()
    entry = log.open("m1", "c1", user_id="u1")
    log.append(entry, "a")
    log.append(entry, "b")
    log.finish(entry, {"type": "done"})
    # when a coalescing reader and a plain one read
    coalescing = [frame async for frame in log.read(entry, 0, coalesce=True)]
    settings.CHAT_COALESCE_AFTER_SECONDS = 0.0
    plain = [frame async for frame in log.read(entry, 0)]
    # then both get one frame a delta
    expected = [
        {"type": "delta", "message_id": "m1", "seq": 1, "content": "a"},
        {"type": "delta", "message_id": "m1", "seq": 2, "content": "b"},
        {"type": "done"},
    ]
    assert coalescing == expected and plain == expected


@pytest.mark.django_db(transaction=True)
async def test_websocket_resume_of_a_backlog_is_one_joined_frame(alice, upstream, settings):
    # given: a finished reply of five deltas
    settings.CHAT_COALESCE_AFTER_SECONDS = 0.0
    upstream.enqueue(reply(["one ", "two ", "three ", "four ", "five"]))
    ws = connect(alice)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "message", "content": "count"})
    frames = await receive_until(ws, {"done"})
    message_id = frames[1]["message_id"]
    # when the client resumes after the second delta
    await ws.send_json_to({"type": "resume", "message_id": message_id, "after_seq": 2})
    resumed = await receive_until(ws, {"done"})
    # then what it missed comes as one frame, then done
    assert [f["type"] for f in resumed] == ["delta", "done"]
    assert resumed[0] == {
        "type": "delta",
        "message_id": message_id,
        "seq": 5,
        "from_seq": 3,
        "content": "three four five",
    }
    await ws.disconnect()


def test_grpc_delta_carries_from_seq_only_for_joined_frames():
    one = delta_proto({"type": "delta", "message_id": "m", "seq": 4, "content": "x"})
    joined = delta_proto({"type": "delta", "message_id": "m", "seq": 6, "from_seq": 2, "content": "abcde"})
    assert one == chat_pb2.ReplyDelta(message_id="m", seq=4, content="x", from_seq=0)
    assert joined == chat_pb2.ReplyDelta(message_id="m", seq=6, content="abcde", from_seq=2)
