"""The bridge between Django's sync code and the event loop that runs replies.

A reply belongs to its conversation, not to the request or socket that asked for it, so
it runs as a task on one long-lived loop per process (the reply loop): the ASGI server's
loop in the chat ASGI process (bound by ``lifecycle.ChatLifecycleMiddleware``), or a
background loop thread in processes without one (the gRPC server, tests, management
commands).

* sync to async: REST views, gRPC servicers and services after commit hand coroutines to
  the reply loop with ``submit``, and read an async iterator from a thread with
  ``iterate_sync``;
* async to sync: coroutines run ORM work off the loop with ``db``, on a bounded executor,
  each call with a connection of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import structlog

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _loop
    if _loop is not loop:
        with _lock:
            if _loop is None or _loop.is_closed() or not _loop.is_running():
                _loop = loop


def db_executor_install(loop: asyncio.AbstractEventLoop) -> None:
    """The loop's default executor runs ORM work (``db``): size it from
    ``CHAT_DB_THREADS`` instead of Python's min(32, cores + 4)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings

    loop.set_default_executor(ThreadPoolExecutor(max_workers=settings.CHAT_DB_THREADS, thread_name_prefix="db"))


def db(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``await db(fn)(*args)``: run ORM work off the event loop, on the loop's bounded
    executor, with a database connection of its own that is closed (or handed back to the
    pool) when ``fn`` returns.

    Why not asgiref's sync-to-async: it keeps Django's connections in context-local storage
    and copies it back into the calling task, so every task spawned from one socket (its
    reply producers) would share one ``DatabaseWrapper`` across executor threads at once:
    one task's transaction would swallow another's statements, and a connection broken in
    one would stay broken for all. Each call here runs in a fresh context (with the
    caller's log context re-bound) and owns its connection.
    """

    async def call(*args: Any, **kwargs: Any) -> T:
        log_context = structlog.contextvars.get_contextvars()

        def run() -> T:
            from django.db import connections

            structlog.contextvars.bind_contextvars(**log_context)
            try:
                return func(*args, **kwargs)
            finally:
                connections.close_all()

        return await asyncio.get_running_loop().run_in_executor(None, contextvars.Context().run, run)

    return call


def _start_background_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    db_executor_install(loop)
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    threading.Thread(target=run, name="reply-loop", daemon=True).start()
    ready.wait()
    return loop


def reply_loop() -> asyncio.AbstractEventLoop:
    global _loop
    loop = _loop
    if loop is not None and loop.is_running() and not loop.is_closed():
        return loop
    with _lock:
        if _loop is None or _loop.is_closed() or not _loop.is_running():
            _loop = _start_background_loop()
        return _loop


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Run ``coro`` on the reply loop from any thread, with the caller's log context (its
    request id, RPC name); returns a thread-safe future."""
    return asyncio.run_coroutine_threadsafe(
        _with_log_context(coro, structlog.contextvars.get_contextvars()), reply_loop()
    )


async def _with_log_context(coro: Coroutine[Any, Any, T], log_context: dict[str, Any]) -> T:
    structlog.contextvars.bind_contextvars(**log_context)  # this task's own context only
    return await coro


def release_thread_connections() -> None:
    """Give this thread's database connections back before it waits on the reply loop.

    A sync thread (a gRPC servicer, a REST view) that then waits for a whole reply would
    hold its connection for the reply's length: with N such streams, N pooled connections
    sit idle while the reply's own saves (in the loop's executor) wait for one, time out,
    and the final save is at risk. Never inside a transaction; the next query reconnects.
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def iterate_sync(
    make: Callable[[], AsyncIterator[T]],
    *,
    is_active: Callable[[], bool] = lambda: True,
    poll_seconds: float = 0.25,
) -> Iterator[T]:
    """Consume an async iterator (created and driven on the reply loop) from a sync
    thread, e.g. a gRPC servicer's. Stops when ``is_active()`` turns false, checked every
    ``poll_seconds`` while waiting: the client went away, or (gRPC streams, through
    ``core.grpc_server.streams``) the caller's session ended."""
    loop = reply_loop()
    holder: dict[str, AsyncIterator[T]] = {}

    async def create() -> None:
        holder["it"] = make()

    asyncio.run_coroutine_threadsafe(create(), loop).result()
    iterator = holder["it"]
    release_thread_connections()
    try:
        while True:
            future = asyncio.run_coroutine_threadsafe(_anext(iterator), loop)
            while True:
                try:
                    done, item = future.result(timeout=poll_seconds)
                    break
                except concurrent.futures.TimeoutError:
                    if not is_active():
                        future.cancel()
                        return
            if done:
                return
            yield item
    finally:
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            asyncio.run_coroutine_threadsafe(_close(closer), loop)


async def _anext(iterator: AsyncIterator[T]) -> tuple[bool, T | None]:
    try:
        return False, await iterator.__anext__()
    except StopAsyncIteration:
        return True, None


async def _close(closer: Callable[[], Awaitable[None]]) -> None:
    try:
        await closer()
    except Exception:  # noqa: BLE001, S110 - closing a finished iterator may raise; nothing to do
        pass
