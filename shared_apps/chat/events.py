"""Conversation events for live followers (``StreamMessages``, sockets), published after commit.

Only message-level events travel through the channel layer (a message stored, a reply
started, a reply finished): a handful per reply. A conversation's generated title goes to
its owner's open sockets of this process directly (``conversation_titled_send``). Reply deltas never do; a follower that
sees ``reply_started`` reads the deltas from the reply log (``reply_log``), which cannot drop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
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


# The open sockets of each user in this process: (their loop, their send). A conversation's
# generated title reaches them directly, not through the channel layer (a socket there would
# need a channel of its own and a reader on the layer from every socket's loop).
_user_sockets: dict[str, dict[int, tuple[asyncio.AbstractEventLoop, Callable[[dict], Awaitable[None]]]]] = {}


def user_socket_add(user_id: Any, key: int, send: Callable[[dict], Awaitable[None]]) -> None:
    """Register an authenticated socket (called on its loop) for its user's events."""
    _user_sockets.setdefault(str(user_id), {})[key] = (asyncio.get_running_loop(), send)


def user_socket_discard(user_id: Any, key: int) -> None:
    sockets = _user_sockets.get(str(user_id))
    if sockets is not None:
        sockets.pop(key, None)
        if not sockets:
            _user_sockets.pop(str(user_id), None)


async def conversation_titled_send(*, user_id: Any, conversation_id: Any, title: str) -> None:
    """Tell the owner's open sockets in this process that a conversation got a generated title
    (``{"type": "title", ...}``). Awaited once the title is committed; never raises."""
    frame = {"type": "title", "conversation_id": str(conversation_id), "title": title}
    here = asyncio.get_running_loop()
    for loop, send in list(_user_sockets.get(str(user_id), {}).values()):
        try:
            if loop is here:
                await send(frame)
            else:
                await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(send(frame), loop))
        except Exception as exc:  # noqa: BLE001 - a closed socket must not fail the others
            logger.info("title_frame_not_sent", error=type(exc).__name__)


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
