"""The reply log: every delta of a reply in flight, by ``seq``, for any number of readers.

A reply is produced once (``reply_producer``) and read by whoever wants it (``reply_reader``): the
socket that asked, a socket that reconnected and sent ``resume``, a gRPC stream, a
``StreamMessages`` follower. Readers ask for "everything after seq N" and then follow
live, so a reconnecting client gets exactly the missing deltas, with no gap and no repeat.

* In this process: an in-memory log per reply (``MemoryReplyLog``), kept for a while
  after the reply ends. Readers may sit on any event loop; wake-ups cross loops safely.
* Across processes (``REDIS_URL`` set): the producer mirrors the log to a Redis Stream
  ``chatai:reply:<message_id>`` whose entry ids are ``0-<seq>``, flushed in small
  batches, so a reader on another process reads ``XRANGE`` after its seq, then blocks
  on ``XREAD``. Redis Streams keep every entry: unlike channel-layer groups (which drop
  past a channel's capacity) no delta can be lost to fan-out.

The final entry of every log is the reply's last frame: ``done`` or ``error``.

Readers behind: with no backlog every delta is its own frame. A reader that asks to
``coalesce`` and finds several deltas waiting, the oldest for at least
``CHAT_COALESCE_AFTER_SECONDS`` (its consumer, a socket or a gRPC stream, fell behind: a
busy loop, a slow client, a resume), gets them as one frame: ``content`` joined, ``seq`` the
last delta included, ``from_seq`` the first. Nothing is dropped; clients join by ``seq``.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.conf import settings

from shared_apps.chat.payloads import delta_frame, joined_delta_frame

logger = structlog.get_logger(__name__)

KEEP_FINISHED_SECONDS = 300
REDIS_FLUSH_SECONDS = 0.05
REDIS_STREAM_TTL_SECONDS = 3600


def _redis_key(message_id: str) -> str:
    return f"chatai:reply:{message_id}"


def _cancel_key(message_id: str) -> str:
    return f"chatai:reply-cancel:{message_id}"


@dataclass
class ReplyEntry:
    message_id: str
    conversation_id: str
    user_id: str = ""
    deltas: list[str] = field(default_factory=list)
    appended_at: list[float] = field(default_factory=list)  # time.monotonic() of each delta
    final: dict[str, Any] | None = None
    finished_at: float | None = None
    task: asyncio.Task | None = None
    _waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = field(default_factory=list)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, future in waiters:
            if loop is running:
                _resolve(future)  # a reader on the producer's own loop: no wake-up write
            elif not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, future)

    async def wait_change(self, known_deltas: int) -> None:
        if len(self.deltas) != known_deltas or self.final is not None:
            return
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiters.append((loop, future))
        if len(self.deltas) != known_deltas or self.final is not None:  # raced with a writer
            return
        await future


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class MemoryReplyLog:
    def __init__(self) -> None:
        self._entries: dict[str, ReplyEntry] = {}

    def open(self, message_id: str, conversation_id: str, *, user_id: str) -> ReplyEntry:
        self._expire()
        entry = ReplyEntry(message_id=message_id, conversation_id=conversation_id, user_id=user_id)
        self._entries[message_id] = entry
        return entry

    def get(self, message_id: str) -> ReplyEntry | None:
        return self._entries.get(message_id)

    def discard(self, entry: ReplyEntry) -> None:
        """Forget a reply that was never stored (no reader was told of it)."""
        self._entries.pop(entry.message_id, None)

    def append(self, entry: ReplyEntry, text: str) -> int:
        entry.deltas.append(text)
        entry.appended_at.append(time.monotonic())
        entry._wake()
        return len(entry.deltas)

    def finish(self, entry: ReplyEntry, final: dict[str, Any]) -> None:
        entry.final = final
        entry.finished_at = time.monotonic()
        entry._wake()

    def _expire(self) -> None:
        now = time.monotonic()
        stale = [k for k, e in self._entries.items() if e.finished_at and now - e.finished_at > KEEP_FINISHED_SECONDS]
        for key in stale:
            del self._entries[key]

    async def read(self, entry: ReplyEntry, after_seq: int, *, coalesce: bool = False) -> AsyncIterator[dict[str, Any]]:
        """The frames after ``after_seq``, live until the final frame."""
        seq = max(0, after_seq)
        join_after = settings.CHAT_COALESCE_AFTER_SECONDS
        while True:
            known = len(entry.deltas)
            if seq < known:
                if coalesce and known - seq > 1 and time.monotonic() - entry.appended_at[seq] >= join_after:
                    text = "".join(entry.deltas[seq:known])
                    yield joined_delta_frame(entry.message_id, seq + 1, known, text)
                    seq = known
                else:
                    seq += 1
                    yield delta_frame(entry.message_id, seq, entry.deltas[seq - 1])
                continue
            if entry.final is not None:
                yield entry.final
                return
            await entry.wait_change(known)


memory_log = MemoryReplyLog()


# --- Redis mirror ---------------------------------------------------------------------------

_redis_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def redis_client():
    """An asyncio Redis client for the running loop, or None without REDIS_URL."""
    if not settings.REDIS_URL:
        return None
    import redis.asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _redis_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
        _redis_clients[loop] = client
    return client


class RedisMirror:
    """Writes one reply's log to its Redis Stream in small batches (never one call per delta)."""

    def __init__(self, message_id: str) -> None:
        self.key = _redis_key(message_id)
        self.pending: list[tuple[int, dict[str, str]]] = []
        self.last_flush = time.monotonic()
        self.failed = False
        self._flush_scheduled = False
        self._lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task] = set()

    def add_delta(self, seq: int, text: str) -> None:
        self.pending.append((seq, {"t": "d", "c": text}))
        self._maybe_flush()

    async def add_final(self, seq: int, final: dict[str, Any]) -> None:
        self.pending.append((seq, {"t": "f", "c": json.dumps(final, default=str)}))
        await self.flush()

    def _maybe_flush(self) -> None:
        if self._flush_scheduled:
            return
        self._flush_scheduled = True
        delay = max(0.0, REDIS_FLUSH_SECONDS - (time.monotonic() - self.last_flush))
        asyncio.get_running_loop().call_later(delay, self._spawn_flush)

    def _spawn_flush(self) -> None:
        task = asyncio.ensure_future(self.flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        # One flush at a time: stream ids must be written in increasing order.
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._flush_scheduled = False
            batch, self.pending = self.pending, []
            self.last_flush = time.monotonic()
            if batch and not self.failed:
                await self._write(batch)

    async def _write(self, batch: list[tuple[int, dict[str, str]]]) -> None:
        client = redis_client()
        try:
            async with client.pipeline(transaction=False) as pipe:
                for seq, fields in batch:
                    pipe.xadd(self.key, fields, id=f"0-{seq}")
                pipe.expire(self.key, REDIS_STREAM_TTL_SECONDS)
                await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - Redis down: local readers still work
            self.failed = True
            logger.warning("reply_mirror_failed", key=self.key, error=type(exc).__name__)


async def redis_read(
    message_id: str,
    after_seq: int,
    *,
    still_streaming: Callable[[], Awaitable[bool]],
    block_ms: int = 1000,
) -> AsyncIterator[dict[str, Any]]:
    """Read a reply mirrored by another process: the deltas after ``after_seq``, then live.

    The stream may not exist yet (the producer flushes in batches), so an empty read is
    not the end; it ends at the final entry, or when ``still_streaming()`` says the stored
    reply is over and nothing more arrives (its producer died without a final entry).
    """
    client = redis_client()
    key = _redis_key(message_id)
    last_id = f"0-{max(0, after_seq)}"
    while True:
        result = await client.xread({key: last_id}, count=500, block=block_ms)
        if not result:
            if await still_streaming():
                continue
            result = await client.xread({key: last_id}, count=500)  # what landed meanwhile
            if not result:
                return
        for _key, entries in result:
            for entry_id, fields in entries:
                last_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                seq = int(last_id.split("-")[1])
                kind = fields[b"t"].decode()
                content = fields[b"c"].decode()
                if kind == "d":
                    yield delta_frame(message_id, seq, content)
                else:
                    yield json.loads(content)
                    return


async def redis_request_cancel(message_id: str) -> None:
    client = redis_client()
    if client is not None:
        await client.set(_cancel_key(message_id), "1", ex=REDIS_STREAM_TTL_SECONDS)


async def redis_cancel_requested(message_id: str) -> bool:
    client = redis_client()
    return bool(client is not None and await client.exists(_cancel_key(message_id)))
