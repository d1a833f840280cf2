"""A chat process killed (``kill -9``) in the middle of a reply: the reply must not stay
``streaming`` until some reader happens by. Its lease (renewed by the producing process) runs
out, and a sweeping chat process closes it as ``failed`` with what was stored, publishing
``reply_finished`` to the conversation's followers."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import websockets
from django.conf import settings as live_settings

from shared_apps.chat import async_bridge, leases
from shared_apps.chat.events import conversation_group
from shared_apps.chat.models import Message
from shared_apps.chat.tests.conftest import chat_asgi_process, wait_for
from testkit.fake_openai import reply, stall_after

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 1.5


async def _first_deltas(url: str, who, count: int) -> list[dict]:
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {who.access}"}) as ws:
        await ws.send(json.dumps({"type": "message", "content": "tell me a long story"}))
        frames = []
        while len([f for f in frames if f["type"] == "delta"]) < count:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout=10)))
        return frames


async def _subscribe(group: str):
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    return layer, channel


async def _reply_finished(layer, channel, message_id: str) -> dict:
    while True:
        event = await layer.receive(channel)
        if event.get("kind") == "reply_finished" and event["message"]["id"] == message_id:
            return event["message"]


def test_a_reply_of_a_killed_process_is_closed_failed_by_another_process(alice, upstream, auth_service, settings):
    # given: this process sweeps expired leases, as every chat process does (short leases here)
    settings.CHAT_REPLY_LEASE_SECONDS = LEASE
    leases.sweeper_start()
    try:
        # and another chat process produces a reply that streamed four deltas, was stored, then stalls
        upstream.enqueue(stall_after(4, then=reply(["Once ", "upon ", "a ", "time ", "never"], delta_interval=0.35)))
        process, url = chat_asgi_process(
            upstream=upstream,
            auth_service=auth_service,
            redis_url=live_settings.REDIS_URL,
            CHAT_REPLY_LEASE_SECONDS=str(LEASE),
        )
        try:
            frames = asyncio.run(_first_deltas(url, alice, 4))
            message_id = next(f["message_id"] for f in frames if f["type"] == "start")
            wait_for(lambda: Message.objects.filter(id=message_id, seq__gte=3).exists(), timeout=5)
            # while its process lives, its lease is renewed: two leases later it still streams
            time.sleep(2 * LEASE)
            assert Message.objects.get(id=message_id).status == "streaming"
            stored = Message.objects.get(id=message_id)
            layer, channel = async_bridge.submit(_subscribe(conversation_group(stored.conversation_id))).result(5)
            # when: the process is killed
            process.kill()
            process.wait(timeout=10)
            killed_at = time.monotonic()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        # then: with no reader, the reply is closed as failed with what was stored
        finished = async_bridge.submit(_reply_finished(layer, channel, message_id)).result(timeout=4 * LEASE + 5)
        closed_after = time.monotonic() - killed_at
        row = Message.objects.get(id=message_id)
        assert (row.status, row.error_code) == ("failed", "reply_interrupted")
        assert (row.content, row.seq) == (stored.content, stored.seq) and row.content.startswith("Once upon")
        # and the followers of the conversation were told
        assert finished["status"] == "failed" and finished["content"] == stored.content
        assert closed_after < 2 * LEASE + 1.0, closed_after
    finally:
        leases.sweeper_stop()


async def test_the_asgi_app_sweeps_expired_leases_when_it_starts(settings):
    from asgiref.testing import ApplicationCommunicator
    from channels.db import database_sync_to_async
    from django.utils import timezone

    from chat_site.asgi import application
    from shared_apps.chat.tests.factories import MessageFactory

    # given: a reply whose producer died long ago (its lease ran out), another still leased
    settings.CHAT_REPLY_LEASE_SECONDS = 60
    past, future = timezone.now() - timezone.timedelta(seconds=5), timezone.now() + timezone.timedelta(seconds=60)
    orphan = await database_sync_to_async(MessageFactory)(streaming=True, content="half a", lease_expires_at=past)
    alive = await database_sync_to_async(MessageFactory)(streaming=True, content="going", lease_expires_at=future)
    # when: the ASGI app starts (the lifespan startup of gunicorn's uvicorn workers)
    lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert (await lifespan.receive_output(timeout=10))["type"] == "lifespan.startup.complete"
    try:
        # then: the expired one is closed at once, the other left alone
        deadline = asyncio.get_running_loop().time() + 5
        while (row := await database_sync_to_async(Message.objects.get)(id=orphan.id)).status == "streaming":
            assert asyncio.get_running_loop().time() < deadline, "not swept at start"
            await asyncio.sleep(0.05)
        assert (row.status, row.error_code, row.content) == ("failed", "reply_interrupted", "half a")
        assert (await database_sync_to_async(Message.objects.get)(id=alive.id)).status == "streaming"
    finally:
        await lifespan.send_input({"type": "lifespan.shutdown"})
        assert (await lifespan.receive_output(timeout=20))["type"] == "lifespan.shutdown.complete"
