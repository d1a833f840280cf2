"""One reader per reply per socket: a ``resume`` for a reply this socket already forwards
replaces the forwarder it had (from the new ``after_seq``) instead of adding one. A flood of
resumes for one reply used to start a reader each, every one of them sending the whole rest
of the reply (300 resumes: 301 copies of every delta and 301 ``done`` frames)."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator

from chat_site.asgi import application
from testkit.fake_openai import reply, stall_after

pytestmark = pytest.mark.django_db(transaction=True)

RESUMES = 300


def connect(who) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {who.access}".encode())]
    )


async def drain(ws: WebsocketCommunicator, quiet: float = 1.0) -> list[dict]:
    """Every frame until the socket has been quiet for ``quiet`` seconds."""
    frames = []
    while not await ws.receive_nothing(timeout=quiet):
        frames.append(json.loads(await ws.receive_from(timeout=5)))
    return frames


async def test_a_flood_of_resumes_leaves_one_reader_of_the_reply(alice, upstream):
    # given: a reply that has sent two of its six deltas and pauses for a second
    words = [f"w{i} " for i in range(6)]
    upstream.enqueue(stall_after(2, seconds=1.0, then=reply(words)))
    ws = connect(alice)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "message", "content": "six words please"})
    ack, start, d1, d2 = [json.loads(await ws.receive_from(timeout=5)) for _ in range(4)]
    assert (d1["seq"], d2["seq"]) == (1, 2)
    message_id = start["message_id"]
    # when: the socket asks to resume that reply 300 times (the id spelled two ways)
    for i in range(RESUMES):
        spelled = message_id.upper() if i % 2 else message_id
        await ws.send_json_to({"type": "resume", "message_id": spelled, "after_seq": 2})
    frames = await drain(ws, quiet=2.0)
    # then: the rest of the reply arrives once: deltas 3 to 6, then one done
    deltas = [f for f in frames if f["type"] == "delta"]
    finals = [f for f in frames if f["type"] in ("done", "error")]
    assert [f["seq"] for f in deltas] == [3, 4, 5, 6], len(deltas)
    assert len(finals) == 1 and finals[0]["type"] == "done"
    assert finals[0]["message"]["content"] == "".join(words)
    # and the socket still answers: a later resume replays from where it is asked
    await ws.send_json_to({"type": "resume", "message_id": message_id, "after_seq": 5})
    again = await drain(ws, quiet=0.5)
    assert [(f["type"], f.get("seq")) for f in again] == [("delta", 6), ("done", None)]
    await ws.disconnect()


async def test_a_resume_replaces_the_reader_from_its_own_seq(alice, upstream):
    # given: a paused reply this socket forwards from seq 0, two deltas seen
    words = [f"v{i} " for i in range(5)]
    upstream.enqueue(stall_after(2, seconds=0.5, then=reply(words)))
    ws = connect(alice)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "message", "content": "five words"})
    _ack, start, _d1, _d2 = [json.loads(await ws.receive_from(timeout=5)) for _ in range(4)]
    # when: the client (having lost track) resumes from seq 1
    await ws.send_json_to({"type": "resume", "message_id": start["message_id"], "after_seq": 1})
    frames = await drain(ws, quiet=1.5)
    # then: from seq 2 on, once
    assert [f.get("seq") for f in frames if f["type"] == "delta"] == [2, 3, 4, 5]
    assert [f["type"] for f in frames].count("done") == 1
    await ws.disconnect()
