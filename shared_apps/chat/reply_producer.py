"""Producing a reply: the model call, the reply log, batched storage, cancel, shutdown.

``reply_begin`` plans a reply, starts ``reply_produce`` as a task on the running loop and
stores the messages while the model is being asked, so the inserts are not in front of the
first token (or it starts nothing, for a repeated ``client_message_id``: that reply exists
already and makes no second model call). The task does not belong to the
request or socket that asked, so a dropped socket does not stop the model. Only
``reply_cancel`` (or a server shutting down past its grace period) stops it, and then what
arrived is stored with status ``cancelled``. An upstream failure stores what arrived with
status ``failed``, and so does a reply still running ``CHAT_REPLY_MAX_SECONDS`` after it began
(``upstream_timeout``). Content is stored as it grows, every ``PERSIST_INTERVAL_SECONDS`` (not
per token), and once at the end. Readers follow the reply log (``reply_reader``). A user has
at most ``CHAT_MAX_REPLIES_IN_FLIGHT_PER_USER`` replies running in this process;
``reply_begin`` refuses more (RateLimited).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings

from shared_apps.chat import async_bridge, leases, limits, metrics, reply_log, selectors, services
from shared_apps.chat.async_bridge import db
from shared_apps.chat.events import conversation_titled_send as events_send_title
from shared_apps.chat.models import Message
from shared_apps.chat.payloads import done_frame, error_frame
from shared_apps.chat.providers import provider_get
from shared_apps.chat.providers.base import Delta, Finish, Usage
from shared_apps.chat.services import ReplyPlan
from shared_apps.core.errors import (
    ApplicationError,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    UpstreamTimeout,
)
from shared_apps.core.slots import PerUserSlots

logger = structlog.get_logger(__name__)

PERSIST_INTERVAL_SECONDS = 1.0
CANCEL_POLL_SECONDS = 0.5
_tasks: set[asyncio.Task] = set()
# Replies running in this process, per user (reply loops of several threads may share it).
replies_in_flight = PerUserSlots()


async def _cancel_watch(entry: reply_log.ReplyEntry) -> None:
    """With Redis, a cancel may come from another process: poll its flag, cancel the task."""
    while entry.final is None:
        await asyncio.sleep(CANCEL_POLL_SECONDS)
        try:
            if await reply_log.redis_cancel_requested(entry.message_id):
                if entry.task is not None:
                    entry.task.cancel()
                return
        except Exception:  # noqa: BLE001, S112 - Redis hiccup: keep producing
            continue


def _stopped_elsewhere(progress: asyncio.Task | None) -> bool:
    """A finished progress save that found the row no longer streaming."""
    return (
        progress is not None
        and progress.done()
        and not progress.cancelled()
        and progress.exception() is None
        and progress.result() is False
    )


def _saved(stored: asyncio.Future[bool] | None) -> bool:
    return stored is None or (stored.done() and stored.result())


async def reply_produce(
    plan: ReplyPlan,
    entry: reply_log.ReplyEntry,
    stored: asyncio.Future[bool] | None = None,
    model_done: Callable[[], None] | None = None,
) -> None:
    """Relay the model's stream into the reply log and store it. ``stored`` resolves once the
    plan's messages are saved (True) or will never be (False: the reply is dropped unseen);
    no progress is written before it resolves True. ``model_done`` is called once the model
    call is over (before the final save and the final frame)."""
    message_id = plan.assistant_message.id
    mirror = reply_log.RedisMirror(str(message_id)) if settings.REDIS_URL else None
    watcher = asyncio.create_task(_cancel_watch(entry)) if mirror else None
    parts: list[str] = []
    usage: Usage | None = None
    finish_reason = ""
    status = Message.Status.FAILED
    error: ApplicationError | None = None
    progress: asyncio.Task | None = None
    persisted_at = started = time.monotonic()
    first_token_seconds: float | None = None
    provider_name = settings.CHAT_PROVIDER
    try:
        provider = provider_get()
        async with (
            asyncio.timeout(settings.CHAT_REPLY_MAX_SECONDS),  # the whole reply, however busy the model
            contextlib.aclosing(provider.stream(plan.request)) as events,
        ):
            async for event in events:
                if isinstance(event, Delta):
                    if _stopped_elsewhere(progress):
                        raise asyncio.CancelledError  # cancelled (or deleted) from another process
                    if first_token_seconds is None:
                        first_token_seconds = time.monotonic() - started
                    parts.append(event.text)
                    seq = reply_log.memory_log.append(entry, event.text)
                    if mirror is not None:
                        mirror.add_delta(seq, event.text)
                    now = time.monotonic()
                    if (
                        now - persisted_at >= PERSIST_INTERVAL_SECONDS
                        and (progress is None or progress.done())
                        and _saved(stored)
                    ):
                        persisted_at = now
                        progress = asyncio.create_task(
                            db(services.reply_progress_save)(message_id=message_id, content="".join(parts), seq=seq)
                        )
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, Finish):
                    finish_reason = event.reason
        status = Message.Status.COMPLETE
    except TimeoutError:  # the overall deadline (the provider's own timeouts are UpstreamTimeout)
        error = UpstreamTimeout(f"The reply took longer than {settings.CHAT_REPLY_MAX_SECONDS:g} s and was stopped.")
        logger.warning("reply_deadline_exceeded", message_id=str(message_id), deltas=len(parts))
    except asyncio.CancelledError:
        status = Message.Status.CANCELLED
        logger.info("reply_cancelled", message_id=str(message_id), deltas=len(parts))
    except ApplicationError as exc:
        error = exc
        logger.warning("reply_failed", message_id=str(message_id), code=exc.code, deltas=len(parts))
    except Exception as exc:  # noqa: BLE001 - never lose what arrived
        error = UpstreamError("The reply failed unexpectedly.")
        logger.exception("reply_crashed", message_id=str(message_id), error=type(exc).__name__)
    finally:
        if watcher is not None:
            watcher.cancel()
        if model_done is not None:
            model_done()  # its client may ask for the next reply as soon as it sees this one end
    if progress is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await progress
    if stored is not None and not await _outcome(stored):
        # Its messages were never stored (the store failed, or the same client_message_id won
        # a race): nobody was told of this reply, so it leaves no trace.
        reply_log.memory_log.discard(entry)
        logger.info("reply_dropped_unstored", message_id=str(message_id))
        reservation = getattr(plan.assistant_message, "token_reservation", None)
        if reservation is not None:
            used = services.reply_tokens_used(reservation, "".join(parts), usage)
            with contextlib.suppress(Exception):
                await db(limits.token_reservation_settle)(reservation, used_tokens=used)
        return
    if mirror is not None:
        # Every delta is in Redis before the database says the reply is over.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await mirror.flush()
    try:
        message = await _finish_save(
            message=plan.assistant_message,
            content="".join(parts),
            seq=len(parts),
            status=status,
            usage=usage,
            finish_reason=finish_reason,
            error_code=error.code if error else "",
        )
    except ServiceUnavailable as exc:
        logger.error("reply_final_save_failed", message_id=str(message_id), deltas=len(parts))
        reply_log.memory_log.finish(entry, error_frame(message_id, exc))
        return
    metrics.reply_observe(
        provider=provider_name,
        model=plan.assistant_message.model,
        outcome=status,
        error_code=error.code if error else "",
        first_token_seconds=first_token_seconds,
        deltas=len(parts),
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
    )
    if message is None:
        final = error_frame(message_id, NotFound("The conversation was deleted."))
    elif error is not None:
        final = error_frame(message_id, error)
    else:
        final = done_frame(message)
    reply_log.memory_log.finish(entry, final)
    if mirror is not None:
        await mirror.add_final(len(parts) + 1, final)
    if plan.title_wanted and message is not None and status == Message.Status.COMPLETE:
        _title_launch(plan, "".join(parts))


# --- a conversation's title, after its first reply ------------------------------------------------

TITLE_TIMEOUT_SECONDS = 20.0
_title_tasks: set[asyncio.Task] = set()


def _title_launch(plan: ReplyPlan, reply: str) -> None:
    """Ask for a title once the reply is stored and its final frame sent: a task of its own,
    so the reply never waits for it and nothing it does can fail the reply."""
    task = asyncio.get_running_loop().create_task(title_produce(plan, reply))
    _title_tasks.add(task)
    task.add_done_callback(_title_tasks.discard)


async def title_produce(plan: ReplyPlan, reply: str) -> str | None:
    """A small bounded request for the conversation's title (``services.conversation_title_request``);
    stored unless its owner titled it meanwhile, then sent to the owner's sockets. A failure
    (the upstream's error, a timeout) is logged and leaves the conversation untitled."""
    conversation_id = plan.conversation.id
    user_id = plan.user_message.user_id
    try:
        request = services.conversation_title_request(plan=plan, reply=reply)
        parts: list[str] = []
        usage: Usage | None = None
        async with (
            asyncio.timeout(TITLE_TIMEOUT_SECONDS),
            contextlib.aclosing(provider_get().stream(request)) as events,
        ):
            async for event in events:
                if isinstance(event, Delta):
                    parts.append(event.text)
                elif isinstance(event, Usage):
                    usage = event
        title = await db(services.conversation_title_save)(
            conversation_id=conversation_id, user_id=user_id, text="".join(parts), request=request, usage=usage
        )
    except Exception as exc:  # noqa: BLE001 - a title is a nicety: never an error of the chat
        code = exc.code if isinstance(exc, ApplicationError) else type(exc).__name__
        logger.warning("conversation_title_failed", conversation_id=str(conversation_id), error=code)
        return None
    if title is not None:
        await events_send_title(user_id=user_id, conversation_id=conversation_id, title=title)
    return title


async def _finish_save(**fields) -> Message | None:
    """The final save must survive a database blip (a restart, a dropped connection): retry
    with backoff for up to ~30 s. Past that, readers get an error frame rather than hang,
    and the row keeps what the last progress save stored."""
    delay = 0.1
    for attempt in range(1, 12):
        try:
            return await db(services.reply_finish_save)(**fields)
        except asyncio.CancelledError:
            continue  # shutdown cancels again: still store
        except Exception as exc:  # noqa: BLE001
            logger.warning(
                "reply_final_save_retry",
                message_id=str(fields["message"].id),
                attempt=attempt,
                error=type(exc).__name__,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise ServiceUnavailable("The reply could not be stored; the database is unavailable.")


async def _outcome(stored: asyncio.Future[bool]) -> bool:
    while True:
        try:
            return await asyncio.shield(stored)
        except asyncio.CancelledError:
            continue  # shutdown cancels again: the store's answer decides what to keep


async def reply_begin(**params) -> ReplyPlan:
    """Plan a reply (``services.reply_plan``: validation, ownership, limits, the prompt), start
    the model call on the running loop, and store the messages meanwhile. Returns the stored
    plan; readers follow the reply with ``reply_reader.reply_frames``.

    A plan that already exists (a repeated ``client_message_id``) makes no model call. If the
    store fails or loses a ``client_message_id`` race, the model call started for it is
    cancelled and leaves nothing behind; the caller gets the error or the winning plan.
    """
    return await _begin(services.reply_plan, params)


async def reply_regenerate_begin(**params) -> ReplyPlan:
    """``reply_begin`` for a new reply beside an assistant message (``services.reply_regenerate_plan``)."""
    return await _begin(services.reply_regenerate_plan, params)


async def reply_edit_begin(**params) -> ReplyPlan:
    """``reply_begin`` for an edited user message and its reply (``services.reply_edit_plan``)."""
    return await _begin(services.reply_edit_plan, params)


async def _begin(plan_make: Callable[..., ReplyPlan], params: dict) -> ReplyPlan:
    user_id = params["user_id"]
    limit = settings.CHAT_MAX_REPLIES_IN_FLIGHT_PER_USER
    if not replies_in_flight.acquire(user_id, limit):
        raise RateLimited(f"At most {limit} replies at once per user; wait for one to finish.", retry_after=1)
    try:
        plan = await db(plan_make)(**params)
    except BaseException:
        replies_in_flight.release(user_id)
        raise
    if plan.existing:
        replies_in_flight.release(user_id)
        return plan
    released = False

    def release_slot(*_task: asyncio.Task) -> None:
        nonlocal released
        if not released:
            released = True
            replies_in_flight.release(user_id)

    stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    entry = _reply_launch(plan, stored, model_done=release_slot)
    entry.task.add_done_callback(release_slot)  # also if it is cancelled before it ever ran
    store = asyncio.ensure_future(db(services.reply_store)(plan))

    def settle(done: asyncio.Future[ReplyPlan]) -> None:
        ok = not done.cancelled() and done.exception() is None and not done.result().existing
        stored.set_result(ok)
        if not ok and entry.task is not None:
            entry.task.cancel()

    store.add_done_callback(settle)
    # The store finishes even if our caller goes away: the producer waits for its answer.
    return await asyncio.shield(store)


def _reply_launch(
    plan: ReplyPlan, stored: asyncio.Future[bool] | None = None, model_done: Callable[[], None] | None = None
) -> reply_log.ReplyEntry:
    entry = reply_log.memory_log.open(
        str(plan.assistant_message.id), str(plan.conversation.id), user_id=str(plan.user_message.user_id)
    )
    task = asyncio.get_running_loop().create_task(reply_produce(plan, entry, stored, model_done))
    entry.task = task
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    message_id = plan.assistant_message.id
    leases.producing_add(message_id)  # its lease is renewed while this process produces it
    task.add_done_callback(lambda _task: leases.producing_discard(message_id))
    return entry


async def reply_cancel(*, user_id: uuid.UUID, message_id: str) -> None:
    entry = reply_log.memory_log.get(str(message_id))
    if entry is not None:
        if entry.user_id != str(user_id):
            raise NotFound("Message not found.")
        if entry.final is None and entry.task is not None:
            entry.task.cancel()
        return
    message = await db(selectors.message_get)(user_id=user_id, message_id=message_id)
    if message.role != Message.Role.ASSISTANT:
        raise NotFound("Reply not found.")
    if message.status == Message.Status.STREAMING:
        if settings.REDIS_URL:
            await reply_log.redis_request_cancel(str(message.id))
        else:
            await db(services.reply_orphan_cancel)(message_id=message.id)


async def replies_drain(grace_seconds: float) -> None:
    """Shutdown: let replies in flight finish within the grace period, then cancel the
    rest (stored as ``cancelled``) and wait for their final saves."""
    pending = [t for t in _tasks if not t.done()]
    if not pending:
        return
    logger.info("replies_draining", in_flight=len(pending), grace_seconds=grace_seconds)
    _done, still = await asyncio.wait(pending, timeout=grace_seconds)
    for task in still:
        task.cancel()
    if still:
        await asyncio.wait(still, timeout=10)


def replies_drain_sync(grace_seconds: float) -> None:
    """grpcserve's GRPC_ON_STOP hook."""
    async_bridge.submit(replies_drain(grace_seconds)).result(timeout=grace_seconds + 15)
