"""Conversation events for live followers (``StreamMessages``, sockets), published after commit.

Only message-level events travel through the channel layer (a message stored, a reply
started, a reply finished; to the owner's sockets, a conversation's generated title): a
handful per reply. Reply deltas never do; a follower that
sees ``reply_started`` reads the deltas from the reply log (``reply_log``), which cannot drop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from asgiref.sync import SyncToAsync
from channels.layers import get_channel_layer
from django.db import transaction

from shared_apps.chat import async_bridge
from shared_apps.chat.models import Message
from shared_apps.chat.payloads import message_data

logger = structlog.get_logger(__name__)


def conversation_group(conversation_id: Any) -> str:
    return f"conv.{conversation_id}"


def user_group(user_id: Any) -> str:
    """Every open socket of one user (joined by the websocket consumer once authenticated)."""
    return f"user.{user_id}"


async def conversation_titled_send(*, user_id: Any, conversation_id: Any, title: str) -> None:
    """Tell the owner's open sockets (on any process) that a conversation got a generated
    title. Awaited on the producing loop once the title is committed; never raises."""
    frame = {"type": "title", "conversation_id": str(conversation_id), "title": title}
    await _group_send(user_group(user_id), {"type": "user.event", "frame": frame})


async def _group_send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, event)
    except Exception as exc:  # noqa: BLE001 - a follower missing an event must not fail the write
        logger.warning("conversation_event_not_published", group=group, error=type(exc).__name__)


def publish(conversation_id: Any, kind: str, message: Message) -> None:
    """Fire-and-forget, from sync code: on the loop this thread was called from (ASGI) or
    the process's reply loop, so in-memory layer queues stay on one loop."""
    event = {"type": "conversation.event", "kind": kind, "message": message_data(message)}
    coro = _group_send(conversation_group(conversation_id), event)
    outer = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:
        running.create_task(coro)
    elif outer is not None and outer.is_running():
        asyncio.run_coroutine_threadsafe(coro, outer)
    else:
        async_bridge.submit(coro)


def message_created_after_commit(message: Message) -> None:
    transaction.on_commit(lambda: publish(message.conversation_id, "message", message))


def reply_started_after_commit(message: Message) -> None:
    transaction.on_commit(lambda: publish(message.conversation_id, "reply_started", message))


def reply_finished_after_commit(message: Message) -> None:
    transaction.on_commit(lambda: publish(message.conversation_id, "reply_finished", message))
