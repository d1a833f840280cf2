"""Websocket garbage: every bad frame gets an ``error`` frame and the socket keeps working."""

from __future__ import annotations

import json
import random

import pytest

from shared_apps.chat.tests.reliability.conftest import connect, frames_until
from testkit.fake_openai import reply

pytestmark = pytest.mark.django_db(transaction=True)

BAD_FRAMES = [
    "not json",
    "{",
    "[]",
    "null",
    "42",
    '"string"',
    "{}",
    '{"type": null}',
    '{"type": "nope"}',
    '{"type": ["message"]}',
    '{"type": "message"}',
    '{"type": "message", "content": 5}',
    '{"type": "message", "content": ""}',
    '{"type": "message", "content": "x", "temperature": "hot"}',
    '{"type": "message", "content": "x", "temperature": 9}',
    '{"type": "message", "content": "x", "max_tokens": -1}',
    '{"type": "message", "content": "x", "max_tokens": true}',
    '{"type": "message", "content": "x", "model": "gpt-9"}',
    '{"type": "message", "content": "x", "conversation_id": "not-a-uuid"}',
    '{"type": "message", "content": "x", "conversation_id": "00000000-0000-0000-0000-000000000000"}',
    '{"type": "message", "content": "x", "client_message_id": "' + "c" * 500 + '"}',
    '{"type": "cancel"}',
    '{"type": "cancel", "message_id": 7}',
    '{"type": "cancel", "message_id": "zzz"}',
    '{"type": "resume", "message_id": "zzz", "after_seq": 0}',
    '{"type": "resume", "message_id": "x", "after_seq": -1}',
    '{"type": "resume", "message_id": "x", "after_seq": "1"}',
    '{"type": "auth", "token": "again"}',
    '{"type": "message", "content": "\\u0000"}',
]


async def test_garbage_frames_each_get_an_error_and_the_socket_still_works(alice, upstream, settings):
    # given
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 1000
    rng = random.Random(1234)
    junk = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(10)]
    ws = connect(alice)
    assert (await ws.connect())[0]
    errors = 0
    # when: every bad frame, text and binary
    for raw in BAD_FRAMES:
        await ws.send_to(text_data=raw)
        frames = await frames_until(ws, kinds=("error", "done"))
        assert frames[-1]["type"] == "error", (raw, frames)
        errors += 1
    for raw in junk:
        await ws.send_to(bytes_data=raw)
        frame = json.loads(await ws.receive_from(timeout=5))
        assert frame["type"] == "error" and frame["code"]
    oversized = json.dumps({"type": "message", "content": "x" * (settings.CHAT_WS_MAX_FRAME_BYTES + 10)})
    await ws.send_to(text_data=oversized)
    frame = json.loads(await ws.receive_from(timeout=5))
    assert frame == {**frame, "type": "error", "code": "frame_too_large"}
    # then: a good message still streams to the end
    upstream.enqueue(reply(["still ", "alive"]))
    await ws.send_json_to({"type": "message", "content": "are you there?"})
    frames = await frames_until(ws)
    assert frames[-1]["type"] == "done" and frames[-1]["message"]["content"] == "still alive"
    assert errors == len(BAD_FRAMES)
    await ws.disconnect()
