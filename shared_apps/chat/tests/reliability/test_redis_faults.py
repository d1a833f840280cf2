"""Redis stopped during traffic and started again, with two chat processes.

A PRIVATE ``redis-server`` on a free port (never the shared one) serves this test process
(cache, channel layer, reply mirror: REDIS_URL, CACHES and CHANNEL_LAYERS overridden) and a
second chat process under uvicorn (its environment points at the same Redis). Redis is killed
while a reply streams here, then started again on the same port. What clients see:

* the producing process's socket still gets every delta and ``done`` (the reply is stored
  complete with everything that arrived); REST and websocket messages keep working, on both
  processes, because rate limits fail open (``cache_guard``) and authentication does not use
  Redis;
* a cross-process ``resume`` of a reply that is still streaming is unavailable while Redis is
  down: an error frame, not a hang;
* after Redis returns, without restarting either process, cross-process resume works again.

Every user message that was acknowledged and every reply's content is counted in the database.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time

import pytest
import redis
import websockets
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from shared_apps.chat.models import Message
from shared_apps.chat.tests.conftest import chat_asgi_process
from shared_apps.chat.tests.reliability.conftest import connect, frames_until
from testkit.fake_openai import reply
from testkit.processes import free_port

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server on PATH"),
]


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(settings):
    server = PrivateRedis()
    server.start()
    settings.REDIS_URL = server.url
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url}}
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [server.url], "prefix": "chatai", "capacity": 1000, "expiry": 60},
        }
    }
    yield server
    server.stop()


@pytest.fixture
def second_process(private_redis, upstream, auth_service):
    process, url = chat_asgi_process(
        upstream=upstream,
        auth_service=auth_service,
        redis_url=private_redis.url,
        CHAT_RATE_MESSAGES_PER_MINUTE="100000",
    )
    yield url
    process.terminate()
    process.wait(timeout=15)


async def _there(url, who, frame, timeout=15.0) -> list[dict]:
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {who.access}"}) as ws:
        await ws.send(json.dumps(frame))
        frames = []
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout)))
            if frames[-1]["type"] in ("done", "error"):
                return frames


def _rest_message(who, content, conversation=None):
    body = {"message": content} | ({"conversation_id": conversation} if conversation else {})
    return APIClient().post("/v1/chat/message", body, format="json", **who.headers)


async def test_redis_down_and_back_with_two_processes(alice, upstream, private_redis, second_process, settings):
    acked: set[str] = set()
    # given: a slow reply streaming here, mirrored to Redis
    upstream.enqueue(reply([f"r{i} " for i in range(40)], delta_interval=0.05))
    here = connect(alice)
    assert (await here.connect())[0]
    await here.send_json_to({"type": "message", "content": "long one"})
    first = [json.loads(await here.receive_from(timeout=10)) for _ in range(4)]
    acked.add("long one")
    message_id = first[1]["message_id"]
    # when: Redis dies mid-reply
    private_redis.stop()
    down_at = time.monotonic()
    # then: a cross-process resume of the still-streaming reply is unavailable: an error frame, no hang
    t0 = time.monotonic()
    there = await _there(second_process, alice, {"type": "resume", "message_id": message_id, "after_seq": 0})
    resume_seconds = time.monotonic() - t0
    assert there[-1]["type"] == "error" and resume_seconds < 15, there
    # REST here keeps working (rate limit fails open), and so does a new reply on the other process
    for i in range(3):
        response = await asyncio.to_thread(_rest_message, alice, f"rest while down {i}")
        assert response.status_code == 200, response.content
        acked.add(f"rest while down {i}")
    upstream.enqueue(reply(["other ", "process"]))
    other = await _there(second_process, alice, {"type": "message", "content": "there while down"})
    assert other[0]["type"] == "ack" and other[-1]["type"] == "done", other
    acked.add("there while down")
    # and the producing socket gets every delta and done
    rest = await frames_until(here, timeout=30)
    frames = first + rest
    text = "".join(f["content"] for f in frames if f["type"] == "delta")
    assert frames[-1]["type"] == "done" and frames[-1]["message"]["content"] == text
    assert [f["seq"] for f in frames if f["type"] == "delta"] == list(range(1, 41))
    print(
        f"\nredis down: resume there answered {there[-1]['code']!r} in {resume_seconds:.2f} s; "
        f"{time.monotonic() - down_at:.1f} s of outage"
    )
    # when: Redis comes back on the same port (empty: no persistence)
    private_redis.start()
    # then: without restarting anything, a reply produced here can be resumed there again
    upstream.enqueue(reply([f"b{i} " for i in range(20)], delta_interval=0.06))
    await here.send_json_to({"type": "message", "content": "after redis"})
    acked.add("after redis")
    head = [json.loads(await here.receive_from(timeout=10)) for _ in range(5)]
    resumed = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the client's retry loop; the mirror reconnects on its next flush
        frames_there = await _there(
            second_process, alice, {"type": "resume", "message_id": head[1]["message_id"], "after_seq": head[4]["seq"]}
        )
        if frames_there[-1]["type"] == "done":
            resumed = frames_there
            break
        await asyncio.sleep(0.2)
    assert resumed is not None, frames_there
    deltas = [f for f in resumed if f["type"] == "delta"]
    assert [f["seq"] for f in deltas] == list(range(head[4]["seq"] + 1, 21))
    assert resumed[-1]["message"]["content"] == "".join(f"b{i} " for i in range(20))
    await frames_until(here, timeout=15)
    await here.disconnect()
    # and rate limits count again (the cache is Redis again)
    response = await asyncio.to_thread(_rest_message, alice, "rest after")
    assert response.status_code == 200
    acked.add("rest after")
    assert await asyncio.to_thread(lambda: redis.Redis.from_url(private_redis.url).dbsize()) > 0

    # nothing lost: every acknowledged user message once, every reply complete with its content
    def rows():
        users = list(Message.objects.filter(user_id=alice.user_id, role="user").values_list("content", flat=True))
        replies = list(Message.objects.filter(user_id=alice.user_id, role="assistant").values_list("status", "content"))
        return users, replies

    users, replies = await database_sync_to_async(rows)()
    assert sorted(users) == sorted(acked), (users, acked)
    assert sorted(r[0] for r in replies) == ["complete"] * 3
    assert {r[1] for r in replies} == {text, "other process", "".join(f"b{i} " for i in range(20))}
