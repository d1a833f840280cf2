"""A conversation's stream (``StreamMessages``): its stored messages, and, when following,
new messages and reply deltas as they happen.

``conversation_stored`` is the seed's behaviour (gRPC ``StreamMessages`` without ``follow``
and its REST route ``GET /v1/chat/stream/{id}``): the stored messages, then the caller ends the
stream. ``conversation_follow`` keeps following live (``follow`` set).

Subscribes to the conversation's channel-layer group *before* reading what is stored, so
nothing that happens in between is missed; messages already sent are not repeated. A
reply's deltas are read from the reply log (``reply_reader.reply_frames``), never from the
channel layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from channels.layers import get_channel_layer

from shared_apps.chat import reply_reader, selectors
from shared_apps.chat.async_bridge import db
from shared_apps.chat.events import conversation_group
from shared_apps.chat.models import Message
from shared_apps.chat.payloads import MessageData, message_data

STORED_LIMIT = 100


def conversation_stored(*, user_id: uuid.UUID, conversation_id: str | uuid.UUID) -> list[MessageData]:
    """The caller's conversation's newest ``STORED_LIMIT`` messages, oldest first (sync: call it
    off the event loop). A malformed id is ``invalid_argument``; another user's is ``not_found``."""
    conversation = selectors.conversation_get(user_id=user_id, conversation_id=conversation_id)
    return _stored(conversation.id)


async def conversation_follow(*, user_id: uuid.UUID, conversation_id: str) -> AsyncIterator[dict[str, Any]]:
    """Yields ``{"kind": "message", "message": {...}}`` and ``{"kind": "delta", ...}`` events."""
    conversation = await db(selectors.conversation_get)(user_id=user_id, conversation_id=conversation_id)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = conversation_group(conversation.id)
    await layer.group_add(group, channel)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    following: dict[str, asyncio.Task] = {}
    sent: dict[str, str] = {}  # message id -> status last sent

    async def pump_layer() -> None:
        while True:
            event = await layer.receive(channel)
            await queue.put({"source": "layer", **event})

    async def pump_reply(message_id: str) -> None:
        async for frame in reply_reader.reply_frames(
            user_id=user_id, message_id=message_id, after_seq=0, coalesce=True
        ):
            if frame["type"] == "delta":
                await queue.put({"source": "reply", "kind": "delta", **frame})
            elif frame["type"] == "done":
                # The final message travels behind its last delta on the same queue.
                await queue.put({"source": "reply", "kind": "reply_finished", "message": frame["message"]})

    def follow_reply(message_id: str) -> None:
        if message_id not in following:
            following[message_id] = asyncio.create_task(pump_reply(message_id))

    pump = asyncio.create_task(pump_layer())
    try:
        stored = await db(_stored)(conversation.id)
        for message in stored:
            sent[message["id"]] = message["status"]
            yield {"kind": "message", "message": message}
            if message["status"] == Message.Status.STREAMING:
                follow_reply(message["id"])
        while True:
            event = await queue.get()
            if event["source"] == "reply" and event["kind"] == "delta":
                yield {key: value for key, value in event.items() if key not in ("source", "type")}
                continue
            message = event["message"]
            if event["kind"] == "reply_started":
                follow_reply(message["id"])
                continue
            pump_of_reply = following.get(message["id"])
            if event["source"] == "layer" and pump_of_reply is not None and not pump_of_reply.done():
                continue  # its own pump delivers the final message after the last delta
            if sent.get(message["id"]) == message["status"]:
                continue
            sent[message["id"]] = message["status"]
            yield {"kind": "message", "message": message}
    finally:
        pump.cancel()
        for task in following.values():
            task.cancel()
        with contextlib.suppress(Exception):
            await layer.group_discard(group, channel)


def _stored(conversation_id: uuid.UUID) -> list[MessageData]:
    newest = Message.objects.filter(conversation_id=conversation_id).order_by("-created_at", "-id")[:STORED_LIMIT]
    messages = selectors.message_siblings_attach(messages=list(reversed(list(newest))))
    return [message_data(m) for m in messages]
