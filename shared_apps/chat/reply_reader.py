"""Reading a reply: its frames from any ``seq``, live while it runs, from any process.

A reply's frames are deltas (``seq`` from 1, no gaps) and then one final ``done`` or
``error``. ``reply_frames`` answers them after ``after_seq`` from the first place that
has them: this process's reply log; the Redis mirror of another process's log; or the
database, where a finished reply answers its final frame at once and an orphaned one (its
producer's lease ran out) is closed as failed. ``reply_complete`` is the sync form for transports that answer
once (REST, gRPC ``ChatWithAI``): it begins the reply and waits for its end.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from django.conf import settings
from django.utils import timezone

from shared_apps.chat import async_bridge, reply_log, selectors, services
from shared_apps.chat.async_bridge import db
from shared_apps.chat.models import Message
from shared_apps.chat.payloads import done_frame, error_frame, error_from_code, error_from_frame, is_final
from shared_apps.chat.providers import provider_get
from shared_apps.chat.reply_producer import reply_begin
from shared_apps.chat.services import ReplyPlan
from shared_apps.core.errors import NotFound, ServiceUnavailable, UpstreamError

logger = structlog.get_logger(__name__)

ORPHAN_GRACE_SECONDS = 60


async def reply_frames(
    *, user_id: uuid.UUID, message_id: str, after_seq: int = 0, coalesce: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """The reply's frames after ``after_seq``: deltas, then ``done`` or ``error``; live while it runs.

    Another user's reply is indistinguishable from a missing one (``NotFound``). With
    ``coalesce``, a reader that fell behind gets the deltas waiting for it as one frame
    (``reply_log``); readers of another process's reply (Redis) get one frame a delta.
    """
    entry = reply_log.memory_log.get(str(message_id))
    if entry is not None:
        if entry.user_id != str(user_id):
            raise NotFound("Message not found.")
        async for frame in reply_log.memory_log.read(entry, after_seq, coalesce=coalesce):
            yield frame
        return
    message = await db(selectors.message_get)(user_id=user_id, message_id=message_id)
    if message.role != Message.Role.ASSISTANT:
        raise NotFound("Reply not found.")
    if message.status == Message.Status.STREAMING and settings.REDIS_URL:
        # Produced by another process: its log is mirrored to Redis (perhaps not flushed yet).
        async def still_streaming() -> bool:
            return await db(_is_streaming)(message.id)

        from redis.exceptions import RedisError

        try:
            async for frame in reply_log.redis_read(str(message.id), after_seq, still_streaming=still_streaming):
                yield frame
                if is_final(frame):
                    return
        except (RedisError, OSError) as exc:
            # Without this the reader's task died silently and the client waited forever.
            logger.warning("reply_resume_redis_unavailable", message_id=str(message.id), error=type(exc).__name__)
            raise ServiceUnavailable(
                "The reply is being produced by another process and cannot be followed while Redis is "
                "unavailable; resume again shortly."
            ) from exc
        message = await db(Message.objects.get)(id=message.id)
    # Produced elsewhere with no shared log, or its process died: wait for the stored end. A
    # live producer's process renews the reply's lease; past it, the reply is closed as failed
    # here (as the lease sweep of any chat process would). Rows without a lease (stored before
    # leases) are orphans once their progress is older than the model may stay silent.
    orphan_after = provider_get().max_silence_seconds + ORPHAN_GRACE_SECONDS
    while message.status == Message.Status.STREAMING:
        now = timezone.now()
        if message.lease_expires_at is not None and message.lease_expires_at < now:
            message = await db(services.reply_lease_expired_close)(message_id=message.id) or message
            if message.status != Message.Status.STREAMING:
                break
        elif message.lease_expires_at is None and (now - message.updated_at).total_seconds() > orphan_after:
            message = await db(services.reply_orphan_cancel)(message_id=message.id) or message
            break
        await asyncio.sleep(0.5)
        message = await db(Message.objects.get)(id=message.id)
    if message.status == Message.Status.FAILED:
        yield error_frame(message.id, error_from_code(message.error_code or UpstreamError.code, "The reply failed."))
    else:
        yield done_frame(message)


def _is_streaming(message_id: uuid.UUID) -> bool:
    return Message.objects.filter(id=message_id, status=Message.Status.STREAMING).exists()


async def _final_frame(
    params: dict[str, Any], begin: Callable[..., Awaitable[ReplyPlan]]
) -> tuple[ReplyPlan, dict[str, Any]]:
    plan = await begin(**params)
    final: dict[str, Any] = {}
    async for final in reply_frames(user_id=plan.user_message.user_id, message_id=str(plan.assistant_message.id)):  # noqa: B007
        pass  # only the last frame (done or error) matters
    return plan, final


def reply_complete(
    begin: Callable[..., Awaitable[ReplyPlan]] = reply_begin, **params: Any
) -> tuple[ReplyPlan, Message]:
    """From sync code (REST, gRPC ChatWithAI): begin a reply (``reply_producer.reply_begin``,
    same parameters as ``services.reply_plan``; or another of its ``reply_*_begin``) on the
    reply loop and wait for its end. Returns the plan and the stored reply; raises the domain
    error of a refused request or of the upstream (then the messages stay stored)."""
    future = async_bridge.submit(_final_frame(params, begin))
    async_bridge.release_thread_connections()
    plan, frame = future.result()
    if frame.get("type") == "error":
        raise error_from_frame(frame)
    reply = Message.objects.get(id=plan.assistant_message.id)
    reply.sibling_ids = getattr(plan.assistant_message, "sibling_ids", None)
    return plan, reply
