"""A real, scriptable OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

The chat service talks to model APIs through the official ``openai`` SDK (pinned 3.57.0, which
rides on ``httpx2``/``httpcore2``). Tests must exercise that real SDK and its real HTTP client,
so this module serves the OpenAI wire protocol itself: a small asyncio HTTP/1.1 server
(keep-alive, chunked transfer encoding for SSE, ``Expect: 100-continue``), no third-party
dependencies and no Django imports. One event loop easily holds 1,000 concurrent streams.

Endpoints
    ``POST /v1/chat/completions``  stream true: ``data: {chat.completion.chunk}\\n\\n`` events
        (role chunk, content deltas, finish chunk, a usage chunk when
        ``stream_options.include_usage`` is true, then ``data: [DONE]``);
        stream false: one ``chat.completion`` JSON with usage.
    ``GET /v1/models``, ``GET /v1/models/{id}``.
    ``/_fake/...`` control endpoints (stats, requests, enqueue, default, reset) so a server
    running in another process can be scripted and inspected; they are not recorded/counted.

Default answer: ``"Echo: <last user message>"`` split into ``delta_count`` deltas (fewer if the
text is shorter), one every ``delta_interval`` seconds. With ``delta_size`` set (benchmarks)
the echo text is cut or padded with filler to exactly ``delta_count`` deltas of ``delta_size``
characters. :func:`default_answer` and :func:`split_deltas` compute what will be sent.

Scripting: a FIFO queue of :class:`Behaviour` (consumed one per chat-completion request) plus a
default behaviour; or per request, a JSON behaviour in the ``X-Fake-Behaviour`` request header
(wins over the queue, handy for concurrent tests). Builders: :func:`reply`, :func:`error`,
:func:`delay_first_byte`, :func:`delay_first_token`, :func:`stall_after`, :func:`break_after`,
:func:`malformed_after`, :func:`error_event_after`. "n deltas" always counts *content* deltas;
the role chunk (``{"role": "assistant", "content": ""}``) is sent before them, right after
``first_token_delay``.

Usage::

    with FakeOpenAIServer(delta_interval=0) as server:
        server.enqueue(error(429, headers={"Retry-After": "1"}), reply("Hello there"))
        client = AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        ...
        assert server.last_request.json["messages"][-1]["content"] == "hi"

    # benchmarks, pinned to another core (prints "FAKE_OPENAI_LISTENING <base_url>" when ready;
    # CLI default --delta-size 4, i.e. exactly 64 deltas of 4 characters per answer):
    #   python -m testkit.fake_openai --port 0 --delta-count 64 --delta-interval 0.02
    with FakeOpenAIProcess(preset="realistic", cpus={1}) as proc:
        ...; proc.stats()

Capacity (2-core box, server pinned to one core, raw-socket clients): 1,000 concurrent streams of
64 deltas take 1.35 s at 20 ms pacing (ideal 1.28 s, ~0.9 CPU-s) and 0.42 s at 5 ms. Through the
openai SDK the *client* is the bottleneck: 1,000 AsyncOpenAI streams on one core take ~10.7 s.

How each failure surfaces in openai 3.57.0 (httpx2 2.16.2) -- verified by
``shared_apps/chat/tests/test_fake_openai.py``; the chat provider must treat *all* of these as
a failed upstream call:

* ``error(500)`` / 502 / 503 -> ``openai.InternalServerError`` (``status_code`` set); the SDK
  retries 408/409/429/5xx itself unless ``max_retries=0``.
* ``error(429, headers={"Retry-After": "1"})`` -> ``openai.RateLimitError``; ``401`` ->
  ``openai.AuthenticationError``; ``400`` -> ``BadRequestError``; all ``APIStatusError``
  subclasses carrying ``.response.headers``, ``.body`` (the ``error`` object) and ``.request_id``.
* ``delay_first_byte(s)`` with a read timeout < s -> ``openai.APITimeoutError`` raised by
  ``create()`` (after retries, if any).
* ``stall_after(n)`` / ``delay_first_token(s)`` with a read timeout -> ``openai.APITimeoutError``
  (a subclass of ``APIConnectionError``) raised while iterating the stream, after the first n
  chunks were delivered; the SDK does not retry mid-stream.
* ``break_after(n)`` (connection closed mid-stream, no terminating chunk, no ``[DONE]``) ->
  ``openai.APIConnectionError`` raised while iterating, wrapping
  ``httpx2.RemoteProtocolError`` ("incomplete chunked read"), for both ``Stream`` and
  ``AsyncStream``. The stream does *not* silently end early with this SDK, because the body is
  chunked; a non-chunked (EOF-delimited) body would end silently, so a provider should still
  treat "no finish_reason / no [DONE]" as a failure.
* ``malformed_after(n)`` -> ``json.JSONDecodeError`` (a ``ValueError``, *not* an
  ``openai.OpenAIError``!) escapes from the stream iterator: ``Stream``/``AsyncStream`` call
  ``json.loads`` on each data line unguarded. Providers must catch ``ValueError`` too.
* Keep-alive: ``AsyncStream`` drains the body after ``[DONE]`` and reuses the connection; the
  sync ``Stream`` closes the response at ``[DONE]`` without reading the terminating chunk, so
  each sync stream costs a new connection (``connections_total`` shows it).
* ``error_event_after(n)`` (``data: {"error": {...}}`` mid-stream) -> ``openai.APIError``
  (base class, no status code) with the error ``message``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import http
import itertools
import json as _json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Behaviour",
    "FakeOpenAIProcess",
    "FakeOpenAIServer",
    "Pacing",
    "PRESETS",
    "RecordedRequest",
    "break_after",
    "default_answer",
    "delay_first_byte",
    "delay_first_token",
    "error",
    "error_event_after",
    "malformed_after",
    "raise_fd_limit",
    "reply",
    "split_deltas",
    "stall_after",
]

DEFAULT_MODEL = "fake-model"
LISTENING_PREFIX = "FAKE_OPENAI_LISTENING "
BEHAVIOUR_HEADER = "x-fake-behaviour"
_FILLER = " lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt"
_MAX_HEAD = 1 << 20


@dataclass(frozen=True)
class Pacing:
    delta_count: int = 64
    delta_interval: float = 0.02
    delta_size: int | None = None


#: Benchmark presets: 64 deltas of 4 characters (~1 token), one per 20 ms, or one per 5 ms.
PRESETS: dict[str, Pacing] = {
    "realistic": Pacing(64, 0.02, 4),
    "stress": Pacing(64, 0.005, 4),
    "instant": Pacing(64, 0.0, 4),
}


# ---------------------------------------------------------------------------------------------
# Behaviours
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """What the server does with one chat-completion request. Build with the helpers below.

    ``None`` pacing fields fall back to the server's settings. ``text``/``deltas`` ``None``
    means the default echo answer.
    """

    kind: str = "reply"  # "reply" | "error"
    text: str | None = None
    deltas: tuple[str, ...] | None = None
    delta_count: int | None = None
    delta_interval: float | None = None
    delta_size: int | None = None
    first_byte_delay: float = 0.0  # before the status line
    first_token_delay: float = 0.0  # after the headers, before the first (role) chunk
    stall_after: int | None = None  # after n content deltas: send nothing more
    stall_seconds: float | None = None  # ...for this long, then resume (None: until disconnect)
    break_after: int | None = None  # after n content deltas: close the connection
    malformed_after: int | None = None  # after n content deltas: one invalid JSON data line
    error_event_after: int | None = None  # after n content deltas: data: {"error": ...}, end
    error_message: str = "The server had an error while processing your request."
    finish_reason: str = "stop"
    usage: Mapping[str, int] | None = None  # overrides prompt/completion/total_tokens
    model: str | None = None  # model name in the response (default: the requested one)
    status: int = 200
    body: str | None = None  # raw response body (error kind)
    json_body: Any = None  # JSON response body (error kind)
    headers: Mapping[str, str] | None = None  # extra response headers

    def but(self, **changes: Any) -> Behaviour:
        """A copy with some fields changed, e.g. ``reply("x").but(first_token_delay=1)``."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = (
                    list(value) if isinstance(value, tuple) else (dict(value) if isinstance(value, Mapping) else value)
                )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Behaviour:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown behaviour fields: {sorted(unknown)}")
        kwargs = dict(data)
        if kwargs.get("deltas") is not None:
            kwargs["deltas"] = tuple(kwargs["deltas"])
        return cls(**kwargs)


def reply(
    text: str | Sequence[str] | None = None,
    *,
    delta_count: int | None = None,
    delta_interval: float | None = None,
    delta_size: int | None = None,
    usage: Mapping[str, int] | None = None,
    finish_reason: str = "stop",
    model: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Behaviour:
    """A normal answer. ``text`` is a string (split by the pacing settings), a list of exact
    deltas, or ``None`` for the default echo answer."""
    deltas = None
    if text is not None and not isinstance(text, str):
        deltas, text = tuple(text), "".join(text)
    return Behaviour(
        text=text,
        deltas=deltas,
        delta_count=delta_count,
        delta_interval=delta_interval,
        delta_size=delta_size,
        usage=usage,
        finish_reason=finish_reason,
        model=model,
        headers=headers,
    )


_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", None),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "overloaded"),
}


def error(
    status: int,
    body: str | None = None,
    *,
    json: Any = None,  # noqa: A002 - mirrors the wording of the brief / requests-style APIs
    headers: Mapping[str, str] | None = None,
    message: str | None = None,
) -> Behaviour:
    """An HTTP error response. Without ``body``/``json``, an OpenAI-style error object:
    ``{"error": {"message", "type", "param", "code"}}``."""
    if body is None and json is None:
        etype, code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
        phrase = _reason(status)
        json = {
            "error": {
                "message": message or f"Fake upstream error {status} {phrase}",
                "type": etype,
                "param": None,
                "code": code,
            }
        }
    return Behaviour(kind="error", status=status, body=body, json_body=json, headers=headers)


def delay_first_byte(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Send nothing (not even the status line) for ``seconds``, then behave like ``then``."""
    return (then or Behaviour()).but(first_byte_delay=seconds)


def delay_first_token(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Send the 200 headers at once, the first chunk ``seconds`` later (streaming);
    non-streamed: the whole body ``seconds`` late."""
    return (then or Behaviour()).but(first_token_delay=seconds)


def stall_after(n_deltas: int, *, seconds: float | None = None, then: Behaviour | None = None) -> Behaviour:
    """After ``n_deltas`` content deltas, send nothing more while keeping the connection open
    (until the client disconnects or the server stops; or for ``seconds``, then resume)."""
    return (then or Behaviour()).but(stall_after=n_deltas, stall_seconds=seconds)


def break_after(n_deltas: int, then: Behaviour | None = None) -> Behaviour:
    """After ``n_deltas`` content deltas, close the connection: no terminating chunk, no [DONE]."""
    return (then or Behaviour()).but(break_after=n_deltas)


def malformed_after(n_deltas: int, then: Behaviour | None = None) -> Behaviour:
    """After ``n_deltas`` content deltas, send a ``data:`` line that is not valid JSON (then
    carry on normally)."""
    return (then or Behaviour()).but(malformed_after=n_deltas)


def error_event_after(
    n_deltas: int, message: str = "upstream failed mid-stream", then: Behaviour | None = None
) -> Behaviour:
    """After ``n_deltas`` content deltas, send ``data: {"error": {...}}`` and end the body."""
    return (then or Behaviour()).but(error_event_after=n_deltas, error_message=message)


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return ""


def default_answer(body: Mapping[str, Any] | None) -> str:
    """``"Echo: <last user message>"`` (before any delta_size padding)."""
    messages = (body or {}).get("messages") or []
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            return "Echo: " + _content_text(message.get("content"))
    return "Echo: "


def split_deltas(text: str, delta_count: int, delta_size: int | None = None, *, pad: bool = False) -> list[str]:
    """Split ``text`` into deltas. ``delta_size``: pieces of that many characters (with ``pad``,
    exactly ``delta_count`` of them, the text cut or padded with filler). Otherwise
    ``min(delta_count, len(text))`` near-equal pieces."""
    if delta_size:
        if pad:
            total = delta_count * delta_size
            while len(text) < total:
                text += _FILLER
            text = text[:total]
        return [text[i : i + delta_size] for i in range(0, len(text), delta_size)]
    if not text:
        return []
    n = max(1, min(delta_count, len(text)))
    q, r = divmod(len(text), n)
    out, pos = [], 0
    for i in range(n):
        size = q + (1 if i < r else 0)
        out.append(text[pos : pos + size])
        pos += size
    return out


def _estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _prompt_tokens(body: Mapping[str, Any]) -> int:
    messages = body.get("messages") or []
    return sum(4 + _estimate_tokens(_content_text(m.get("content"))) for m in messages if isinstance(m, Mapping))


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


# ---------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    http_version: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    json: Any  # parsed body, or None
    connection_id: int
    received_at: float
    behaviour: Behaviour | None = None  # what the server did (chat completions only)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def api_key(self) -> str | None:
        auth = self.authorization or ""
        return auth[7:] if auth.lower().startswith("bearer ") else None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "http_version": self.http_version,
            "headers": self.headers,
            "json": self.json,
            "connection_id": self.connection_id,
            "received_at": self.received_at,
            "behaviour": self.behaviour.to_dict() if self.behaviour else None,
        }


class _BadRequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


# ---------------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------------


class FakeOpenAIServer:
    """The fake API. In-process: ``start()``/``stop()`` or ``with`` runs it on its own event loop
    in a daemon thread (works from sync and async tests alike). ``await start_serving()`` /
    ``await aclose()`` run it on the caller's loop instead.

    Counters (read from any thread): ``requests_received``, ``requests_served`` (responses
    finished, whatever their status, incl. broken/stalled ones once over), ``connections_open``,
    ``connections_total``, ``peak_connections_open``, ``streams_open``, ``streams_completed``
    (ended with [DONE]), ``streams_aborted`` (client went away mid-stream).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        delta_count: int = 64,
        delta_interval: float = 0.02,
        delta_size: int | None = None,
        model: str = DEFAULT_MODEL,
        default: Behaviour | None = None,
        require_api_key: str | None = None,
        max_records: int | None = None,
        backlog: int = 4096,
    ) -> None:
        self.host = host
        self.port = port
        self.delta_count = delta_count
        self.delta_interval = delta_interval
        self.delta_size = delta_size
        self.model = model
        self.default = default or Behaviour()
        self.require_api_key = require_api_key
        self.backlog = backlog
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._records: deque[RecordedRequest] = deque(maxlen=max_records)
        self._conn_ids = itertools.count(1)
        self._resp_ids = itertools.count(1)
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._conn_tasks: set[asyncio.Task] = set()
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.requests_received = 0
        self.requests_served = 0
        self.connections_total = 0
        self.peak_connections_open = 0
        self.streams_open = 0
        self.streams_completed = 0
        self.streams_aborted = 0
        if not hasattr(self, "connections_open"):
            self.connections_open = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start_serving(self) -> FakeOpenAIServer:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(
            self._handle_connection, self.host, self.port, backlog=self.backlog, limit=_MAX_HEAD
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._conn_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def start(self, timeout: float = 10.0) -> FakeOpenAIServer:
        if self._thread is not None:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_serving())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("fake OpenAI server did not start")
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already gone
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAIServer:
        return await self.start_serving()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- scripting -------------------------------------------------------------------------

    def enqueue(self, *behaviours: Behaviour, times: int = 1) -> None:
        """The next chat-completion requests get these behaviours, in order (each ``times``)."""
        with self._lock:
            for behaviour in behaviours:
                self._queue.extend([behaviour] * times)

    def set_default(self, behaviour: Behaviour | None) -> None:
        """What requests get once the queue is empty (``None``: the echo answer)."""
        self.default = behaviour or Behaviour()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget the queue, records and counters (not the open connections)."""
        with self._lock:
            self._queue.clear()
            self._records.clear()
            self._reset_counters()
        self.default = Behaviour()

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    # -- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._records)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def last_request(self) -> RecordedRequest | None:
        with self._lock:
            return self._records[-1] if self._records else None

    def stats(self) -> dict[str, int]:
        return {
            "requests_received": self.requests_received,
            "requests_served": self.requests_served,
            "connections_open": self.connections_open,
            "connections_total": self.connections_total,
            "peak_connections_open": self.peak_connections_open,
            "streams_open": self.streams_open,
            "streams_completed": self.streams_completed,
            "streams_aborted": self.streams_aborted,
            "pending_behaviours": self.pending,
        }

    def wait_until(self, predicate: Callable[[FakeOpenAIServer], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate(server)`` from another thread until true; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.005)
        return predicate(self)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        if not self.wait_until(lambda s: len(s.requests) >= n, timeout):
            raise TimeoutError(f"expected {n} requests, got {len(self.requests)}")
        return self.requests

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
        conn_id = next(self._conn_ids)
        self.connections_open += 1
        self.connections_total += 1
        self.peak_connections_open = max(self.peak_connections_open, self.connections_open)
        try:
            while True:
                try:
                    request = await self._read_request(reader, writer)
                except _BadRequestError as exc:
                    await self._send_json(writer, exc.status, _error_body(exc.status, str(exc)), keep_alive=False)
                    break
                if request is None:
                    break
                if not await self._dispatch(request, reader, writer, conn_id):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError, OSError):
            pass
        finally:
            self.connections_open -= 1
            if task is not None:
                self._conn_tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> _Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise _BadRequestError(400, "incomplete request head") from None
            return None
        except asyncio.LimitOverrunError:
            raise _BadRequestError(431, "request head too large") from None
        lines = head.decode("latin-1").lstrip("\r\n").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            raise _BadRequestError(400, f"bad request line {lines[0]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequestError(400, f"bad header line {line!r}")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        connection = headers.get("connection", "").lower()
        keep_alive = version == "HTTP/1.1" and "close" not in connection
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                        pass
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        else:
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                raise _BadRequestError(400, "bad content-length") from None
            body = await reader.readexactly(length) if length else b""
        return _Request(method, target, version, headers, body, keep_alive)

    async def _dispatch(
        self, req: _Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: int
    ) -> bool:
        path, _, query = req.target.partition("?")
        if path.startswith("/_fake/"):
            return await self._control(req, path, writer)
        parsed = None
        if req.body:
            with contextlib.suppress(ValueError):
                parsed = _json.loads(req.body)
        record = RecordedRequest(
            req.method, path, query, req.version, req.headers, req.body, parsed, conn_id, time.time()
        )
        with self._lock:
            self._records.append(record)
        self.requests_received += 1
        try:
            if self.require_api_key is not None and record.api_key != self.require_api_key:
                return await self._send_json(
                    writer, 401, _error_body(401, "Incorrect API key provided."), req.keep_alive
                )
            if req.method == "POST" and path == "/v1/chat/completions":
                return await self._chat(req, record, reader, writer)
            if req.method == "GET" and path == "/v1/models":
                data = {"object": "list", "data": [self._model_obj(self.model)]}
                return await self._send_json(writer, 200, data, req.keep_alive)
            if req.method == "GET" and path.startswith("/v1/models/"):
                return await self._send_json(writer, 200, self._model_obj(path[len("/v1/models/") :]), req.keep_alive)
            status = 405 if path in ("/v1/chat/completions", "/v1/models") else 404
            return await self._send_json(
                writer, status, _error_body(status, f"{req.method} {path} not served"), req.keep_alive
            )
        finally:
            self.requests_served += 1

    @staticmethod
    def _model_obj(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}

    def _response_head(self, status: int, headers: Mapping[str, str], keep_alive: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if not keep_alive:
            lines.append("connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _base_headers(self, content_type: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "content-type": content_type,
            "x-request-id": f"req_fake{next(self._resp_ids):08d}",
            "openai-processing-ms": "1",
            "openai-version": "2020-10-01",
        }
        if extra:
            headers.update({k.lower(): str(v) for k, v in extra.items()})
        return headers

    async def _send_json(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        data: Any,
        keep_alive: bool,
        extra: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> bool:
        body = raw if raw is not None else _json.dumps(data).encode()
        headers = self._base_headers("application/json", extra)
        headers["content-length"] = str(len(body))
        writer.write(self._response_head(status, headers, keep_alive) + body)
        await writer.drain()
        return keep_alive

    # -- chat completions ------------------------------------------------------------------

    async def _chat(
        self, req: _Request, record: RecordedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        body = record.json
        if not isinstance(body, dict):
            return await self._send_json(
                writer, 400, _error_body(400, "We could not parse the JSON body."), req.keep_alive
            )
        if not isinstance(body.get("messages"), list) or not body.get("model"):
            return await self._send_json(
                writer, 400, _error_body(400, "'model' and 'messages' are required properties."), req.keep_alive
            )
        override = req.headers.get(BEHAVIOUR_HEADER)
        if override:
            try:
                behaviour = Behaviour.from_dict(_json.loads(override))
            except (ValueError, TypeError) as exc:
                return await self._send_json(
                    writer, 400, _error_body(400, f"bad {BEHAVIOUR_HEADER}: {exc}"), req.keep_alive
                )
        else:
            behaviour = self._next_behaviour()
        record.behaviour = behaviour

        if behaviour.first_byte_delay:
            await asyncio.sleep(behaviour.first_byte_delay)
        if behaviour.kind == "error":
            raw = behaviour.body.encode() if behaviour.body is not None else None
            return await self._send_json(
                writer, behaviour.status, behaviour.json_body, req.keep_alive, behaviour.headers, raw
            )

        deltas = self._deltas_for(behaviour, body)
        model = behaviour.model or str(body.get("model") or self.model)
        usage = {"prompt_tokens": _prompt_tokens(body), "completion_tokens": len(deltas)}
        usage.update(behaviour.usage or {})
        if "total_tokens" not in (behaviour.usage or {}):
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        completion_id = f"chatcmpl-fake{next(self._resp_ids):08d}"
        created = int(time.time())
        if body.get("stream") is True:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return await self._stream(
                req, behaviour, deltas, model, usage, include_usage, completion_id, created, reader, writer
            )
        return await self._complete(req, behaviour, deltas, model, usage, completion_id, created, reader, writer)

    def _deltas_for(self, behaviour: Behaviour, body: Mapping[str, Any]) -> list[str]:
        if behaviour.deltas is not None:
            return list(behaviour.deltas)
        count = behaviour.delta_count or self.delta_count
        size = behaviour.delta_size if behaviour.delta_size is not None else self.delta_size
        if behaviour.text is not None:
            return split_deltas(behaviour.text, count, size)
        return split_deltas(default_answer(body), count, size, pad=True)

    async def _complete(
        self,
        req: _Request,
        behaviour: Behaviour,
        deltas: list[str],
        model: str,
        usage: dict[str, int],
        completion_id: str,
        created: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        if behaviour.first_token_delay:
            await asyncio.sleep(behaviour.first_token_delay)
        data = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(deltas), "refusal": None},
                    "logprobs": None,
                    "finish_reason": behaviour.finish_reason,
                }
            ],
            "usage": usage,
        }
        raw = _json.dumps(data).encode()
        headers = self._base_headers("application/json", behaviour.headers)
        headers["content-length"] = str(len(raw))
        head = self._response_head(200, headers, req.keep_alive)
        if behaviour.stall_after is not None:
            writer.write(head)
            await writer.drain()
            await self._stall(reader, behaviour.stall_seconds)
            if behaviour.stall_seconds is None:
                return False
        if behaviour.break_after is not None:
            writer.write(head + raw[: len(raw) // 2])
            await writer.drain()
            return False
        if behaviour.malformed_after is not None:
            raw = raw[: len(raw) // 2]
            headers["content-length"] = str(len(raw))
            head = self._response_head(200, headers, req.keep_alive)
        writer.write(head + raw)
        await writer.drain()
        return req.keep_alive

    async def _stall(self, reader: asyncio.StreamReader, seconds: float | None) -> None:
        """Send nothing; return after ``seconds``, or when the client disconnects."""

        async def until_eof() -> None:
            while await reader.read(65536):
                pass

        if seconds is None:
            await until_eof()
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(until_eof(), seconds)

    async def _stream(
        self,
        req: _Request,
        behaviour: Behaviour,
        deltas: list[str],
        model: str,
        usage: dict[str, int],
        include_usage: bool,
        completion_id: str,
        created: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        loop = asyncio.get_running_loop()
        interval = behaviour.delta_interval if behaviour.delta_interval is not None else self.delta_interval
        prefix = (
            f'{{"id":"{completion_id}","object":"chat.completion.chunk","created":{created},'
            f'"model":{_json.dumps(model)},"system_fingerprint":"fp_fake","choices":[{{"index":0,"delta":'
        )
        usage_null = ',"usage":null' if include_usage else ""
        suffix = ',"logprobs":null,"finish_reason":null}]' + usage_null + "}"

        headers = self._base_headers("text/event-stream; charset=utf-8", behaviour.headers)
        headers["transfer-encoding"] = "chunked"
        headers["cache-control"] = "no-cache"
        writer.write(self._response_head(200, headers, req.keep_alive))
        await writer.drain()
        self.streams_open += 1
        done = False
        try:
            if behaviour.first_token_delay:
                await asyncio.sleep(behaviour.first_token_delay)
            writer.write(_event(prefix + '{"role":"assistant","content":"","refusal":null}' + suffix))
            start = loop.time()
            n = len(deltas)
            for i in range(n + 1):
                if reader.at_eof() or writer.transport.is_closing():
                    self.streams_aborted += 1
                    return False
                if behaviour.stall_after == i:
                    await writer.drain()
                    await self._stall(reader, behaviour.stall_seconds)
                    if behaviour.stall_seconds is None:
                        self.streams_aborted += 1
                        return False
                    start = loop.time() - i * interval
                if behaviour.break_after == i:
                    await writer.drain()
                    writer.close()
                    return False
                if behaviour.malformed_after == i:
                    writer.write(_event(prefix + '{"content": "unterminated'))
                if behaviour.error_event_after == i:
                    err = _error_body(500, behaviour.error_message)
                    writer.write(_event(_json.dumps(err)) + b"0\r\n\r\n")
                    await writer.drain()
                    return req.keep_alive
                if i == n:
                    break
                if interval > 0 and i > 0:
                    delay = start + i * interval - loop.time()
                    if delay > 0:
                        await writer.drain()
                        await asyncio.sleep(delay)
                writer.write(_event(prefix + '{"content":' + _json.dumps(deltas[i]) + "}" + suffix))
                if interval > 0 or (i & 15) == 15:
                    await writer.drain()
            tail = [
                _event(
                    prefix
                    + "{}"
                    + f',"logprobs":null,"finish_reason":{_json.dumps(behaviour.finish_reason)}}}]'
                    + usage_null
                    + "}"
                )
            ]
            if include_usage:
                tail.append(
                    _event(
                        f'{{"id":"{completion_id}","object":"chat.completion.chunk","created":{created},'
                        f'"model":{_json.dumps(model)},"system_fingerprint":"fp_fake","choices":[],'
                        f'"usage":{_json.dumps(usage)}}}'
                    )
                )
            tail.append(_event("[DONE]"))
            tail.append(b"0\r\n\r\n")
            writer.write(b"".join(tail))
            await writer.drain()
            done = True
            self.streams_completed += 1
            return req.keep_alive
        except (ConnectionError, OSError):
            if not done:
                self.streams_aborted += 1
            return False
        finally:
            self.streams_open -= 1

    # -- control endpoints (for FakeOpenAIProcess) -----------------------------------------

    async def _control(self, req: _Request, path: str, writer: asyncio.StreamWriter) -> bool:
        try:
            payload = _json.loads(req.body) if req.body else None
            if path == "/_fake/stats":
                data: Any = self.stats()
            elif path == "/_fake/requests":
                data = [r.to_dict() for r in self.requests]
            elif path == "/_fake/enqueue" and req.method == "POST":
                items = payload if isinstance(payload, list) else [payload]
                self.enqueue(*(Behaviour.from_dict(item) for item in items))
                data = {"pending": self.pending}
            elif path == "/_fake/default" and req.method == "POST":
                self.set_default(Behaviour.from_dict(payload) if payload else None)
                data = {"ok": True}
            elif path == "/_fake/reset" and req.method == "POST":
                self.reset()
                data = {"ok": True}
            else:
                return await self._send_json(writer, 404, _error_body(404, path), req.keep_alive)
        except (ValueError, TypeError) as exc:
            return await self._send_json(writer, 400, _error_body(400, str(exc)), req.keep_alive)
        return await self._send_json(writer, 200, data, req.keep_alive)


def _event(data: str) -> bytes:
    payload = b"data: " + data.encode() + b"\n\n"
    return b"%x\r\n%b\r\n" % (len(payload), payload)


def _error_body(status: int, message: str) -> dict[str, Any]:
    etype, code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


# ---------------------------------------------------------------------------------------------
# Subprocess mode
# ---------------------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit (1,000 streams need ~1,000 fds
    per side). Returns the new soft limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


class FakeOpenAIProcess:
    """Runs ``python -m testkit.fake_openai`` in a child process (optionally
    pinned to ``cpus``) and talks to its ``/_fake/`` control endpoints. Same ``base_url``,
    ``enqueue``, ``set_default``, ``reset``, ``stats()`` and ``requests()`` (as dicts)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        preset: str | None = None,
        delta_count: int = 64,
        delta_interval: float = 0.02,
        delta_size: int | None = 4,
        model: str = DEFAULT_MODEL,
        cpus: Iterable[int] | None = None,
        max_records: int | None = 10_000,
        python: str = sys.executable,
        extra_args: Sequence[str] = (),
    ) -> None:
        if preset is not None:
            p = PRESETS[preset]
            delta_count, delta_interval, delta_size = p.delta_count, p.delta_interval, p.delta_size
        self.host = host
        self.port = port
        self.cpus = set(cpus) if cpus is not None else None
        self.args = [
            python,
            "-m",
            __name__ if __name__ != "__main__" else "testkit.fake_openai",
            "--host",
            host,
            "--port",
            str(port),
            "--delta-count",
            str(delta_count),
            "--delta-interval",
            str(delta_interval),
            "--model",
            model,
            *extra_args,
        ]
        if delta_size:
            self.args += ["--delta-size", str(delta_size)]
        if max_records is not None:
            self.args += ["--max-records", str(max_records)]
        self.proc: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout: float = 15.0) -> FakeOpenAIProcess:
        root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else root
        cpus = self.cpus
        preexec = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None  # noqa: E731
        self.proc = subprocess.Popen(  # noqa: S603 - our own module, fixed argv
            self.args, stdout=subprocess.PIPE, text=True, env=env, cwd=root, preexec_fn=preexec
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith(LISTENING_PREFIX):
            self.stop()
            raise RuntimeError(f"fake OpenAI subprocess did not start: {line!r}")
        url = line[0][len(LISTENING_PREFIX) :].strip()
        self.port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> FakeOpenAIProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, path: str, payload: Any = None) -> Any:
        data = None if payload is None else _json.dumps(payload).encode()
        request = urllib.request.Request(
            f"http://{self.host}:{self.port}/_fake/{path}",
            data=data,
            method="GET" if data is None else "POST",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return _json.loads(response.read())

    def stats(self) -> dict[str, int]:
        return self._call("stats")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("requests")

    def enqueue(self, *behaviours: Behaviour) -> None:
        self._call("enqueue", [b.to_dict() for b in behaviours])

    def set_default(self, behaviour: Behaviour | None) -> None:
        self._call("default", behaviour.to_dict() if behaviour else {})

    def reset(self) -> None:
        self._call("reset", {})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m testkit.fake_openai",
        description="Fake OpenAI-compatible API server for benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: pick a free port (printed on stdout)")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="pacing preset (overrides --delta-*)")
    parser.add_argument("--delta-count", type=int, default=64)
    parser.add_argument("--delta-interval", type=float, default=0.02)
    parser.add_argument("--delta-size", type=int, default=4, help="characters per delta; 0: exact echo text")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--max-records", type=int, default=10_000, help="recorded requests kept (0: none)")
    parser.add_argument("--require-api-key", default=None)
    args = parser.parse_args(argv)
    if args.preset:
        p = PRESETS[args.preset]
        args.delta_count, args.delta_interval, args.delta_size = p.delta_count, p.delta_interval, p.delta_size
    raise_fd_limit()

    async def serve() -> None:
        import signal

        server = FakeOpenAIServer(
            host=args.host,
            port=args.port,
            delta_count=args.delta_count,
            delta_interval=args.delta_interval,
            delta_size=args.delta_size or None,
            model=args.model,
            max_records=args.max_records,
            require_api_key=args.require_api_key,
        )
        await server.start_serving()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"{LISTENING_PREFIX}{server.base_url}", flush=True)
        await stop.wait()
        await server.aclose()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
