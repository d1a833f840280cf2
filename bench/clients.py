"""The bench's stream clients, one result shape for every way a reply is read.

* :class:`WsTarget`: the chat service's websocket (``/ws/chat/``).
* :class:`SseTarget`: an OpenAI-compatible ``POST /v1/chat/completions`` stream (LiteLLM's
  proxy, or the fake upstream itself), over plain asyncio streams with keep-alive and
  chunked decoding, so the load generator costs little.

A stream's result: ``ttft`` (request sent to first delta), ``gaps`` between frames,
``frames`` received, ``deltas`` carried, ``contiguous`` (deltas 1..n, no gap, no repeat) and
``done``/``errors``. A websocket delta frame carries deltas ``from_seq``..``seq``
(``from_seq`` only on a frame that joins several, for a reader that fell behind), so deltas
are counted as ``seq - from_seq + 1`` and continuity is checked by seq ranges; an SSE event
carries one delta. ``frames / deltas`` is 1.00 when nothing was joined.
"""

from __future__ import annotations

import asyncio
import json
import time

import orjson
import websockets

from bench import harness
from bench.harness import median, pct

STREAM_TIMEOUT = 300.0  # a stream queued behind hundreds of others (LiteLLM at 500) takes minutes


def result(start: float, times: list[float], frames: int, deltas: int, contiguous: bool, done: bool, errors: int):
    return {
        "ttft": times[0] - start if times else None,
        "gaps": [b - a for a, b in zip(times, times[1:], strict=False)],
        "frames": frames,
        "deltas": deltas,
        "contiguous": contiguous,
        "done": done,
        "errors": errors,
    }


def failed(start: float, exc: BaseException) -> dict:
    return result(start, [], 0, 0, False, False, 1) | {"exception": f"{type(exc).__name__}: {exc}"}


def summary(streams: list[dict], expected_deltas: int) -> dict:
    ttfts = [s["ttft"] for s in streams if s["ttft"] is not None]
    gaps = [g for s in streams for g in s["gaps"]]
    deltas = sum(s["deltas"] for s in streams)
    return {
        "streams": len(streams),
        "ttft_p50": pct(ttfts, 50),
        "ttft_p99": pct(ttfts, 99),
        "gap_p50": pct(gaps, 50),
        "gap_p99": pct(gaps, 99),
        "frames": sum(s["frames"] for s in streams),
        "deltas": deltas,
        "expected": len(streams) * expected_deltas,
        "complete": sum(1 for s in streams if s["done"] and s["contiguous"] and s["deltas"] == expected_deltas),
        "errors": sum(s["errors"] for s in streams),
        "error_kinds": _kinds(streams),
        "ack_p50": median([s["ack"] for s in streams if "ack" in s]),
        "ack_to_first_p50": median([s["ack_to_first"] for s in streams if "ack_to_first" in s]),
        "ttfts": ttfts,
    }


class BenchLimited(RuntimeError):
    """The service refused the bench's own users by a per-user limit: the bench is misconfigured
    (its few users stand for many), so the run must not be recorded."""


def check_not_limited(kinds: dict[str, int], where: str) -> None:
    limited = {k: v for k, v in kinds.items() if k.startswith(("rate_limited", "RESOURCE_EXHAUSTED"))}
    if limited:
        raise BenchLimited(
            f"{where}: a per-user limit refused the bench's users ({limited}); lift it in harness.UNCAPPED"
        )


def _kinds(streams: list[dict]) -> dict[str, int]:
    """How the failed streams failed: exception or error frame, counted."""
    kinds: dict[str, int] = {}
    for s in streams:
        if "exception" in s:
            kind = s["exception"][:120]
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


# --- the chat service's websocket ------------------------------------------------------------


async def ws_open(url: str, user: harness.User):
    return await websockets.connect(
        url,
        additional_headers={"Authorization": user.bearer},
        compression=None,
        max_size=2**22,
        open_timeout=60,
        ping_interval=None,
    )


async def ws_conversation(ws) -> str | None:
    """Start a conversation on this socket (one reply, read to its end) and return its id."""
    await ws.send(json.dumps({"type": "message", "content": "hello"}))
    conversation_id = None
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == "ack":
            conversation_id = frame["conversation_id"]
        if frame["type"] in ("done", "error"):
            return conversation_id


async def ws_stream(ws, conversation_id: str | None) -> dict:
    """One reply on an open socket, from sending the message to its ``done``/``error`` frame."""
    message = {"type": "message", "content": "bench"}
    if conversation_id:
        message["conversation_id"] = conversation_id
    start = time.perf_counter()
    times: list[float] = []
    frames = deltas = errors = 0
    expected_seq, contiguous, done = 1, True, False
    error_code = None
    t_ack = None
    try:
        async with asyncio.timeout(STREAM_TIMEOUT):
            await ws.send(json.dumps(message))
            while True:
                raw = await ws.recv()
                now = time.perf_counter()
                frame = orjson.loads(raw)
                kind = frame["type"]
                if kind == "delta":
                    last = frame["seq"]
                    first = frame.get("from_seq", last)
                    if first != expected_seq or last < first:
                        contiguous = False
                    expected_seq = last + 1
                    frames += 1
                    deltas += last - first + 1
                    times.append(now)
                elif kind == "ack":
                    t_ack = now
                    conversation_id = frame["conversation_id"]
                elif kind == "error":
                    errors += 1
                    error_code = f"{frame.get('code')}: {frame.get('message')}"
                    break
                elif kind == "done":
                    done = True
                    break
    except (TimeoutError, websockets.ConnectionClosed, OSError) as exc:
        return failed(start, exc) | {"frames": frames, "deltas": deltas}
    out = result(start, times, frames, deltas, contiguous, done, errors)
    if t_ack is not None:
        # where the time to first token goes: to the ack (the reply prepared and begun), then
        # from the ack to the first delta frame
        out["ack"] = t_ack - start
        if times:
            out["ack_to_first"] = times[0] - t_ack
    if error_code:
        out["exception"] = error_code
    out["conversation_id"] = conversation_id
    return out


TURNS_PER_CONVERSATION = 8


class WsTarget:
    """Streams through the chat service's websocket: one socket per stream slot, opened once
    and reused. Each slot talks in a conversation of its own for ``TURNS_PER_CONVERSATION``
    replies, then starts a new one (its next message names none), so every round sees
    conversations of the same sizes, as users' are, rather than histories growing run-long."""

    def __init__(self, url: str, user: harness.User) -> None:
        self.url, self.user = url, user
        self.slots: list[list] = []  # [socket, conversation id, replies in it]

    async def _ensure(self, n: int) -> None:
        while len(self.slots) < n:
            ws = await ws_open(self.url, self.user)
            self.slots.append([ws, await ws_conversation(ws), 1])

    async def run(self, n: int, concurrency: int) -> list[dict]:
        """``n`` streams, ``concurrency`` at once (each slot runs its share back to back)."""
        await self._ensure(concurrency)
        per_slot = max(1, n // concurrency)

        async def drive(slot):
            results = []
            for _ in range(per_slot):
                if slot[2] >= TURNS_PER_CONVERSATION:
                    slot[1], slot[2] = None, 0
                out = await ws_stream(slot[0], slot[1])
                slot[1], slot[2] = out.get("conversation_id") or slot[1], slot[2] + 1
                results.append(out)
            return results

        batches = await asyncio.gather(*(drive(slot) for slot in self.slots[:concurrency]))
        return [s for batch in batches for s in batch]

    async def close(self) -> None:
        await asyncio.gather(*(slot[0].close() for slot in self.slots), return_exceptions=True)
        self.slots.clear()


# --- OpenAI-compatible HTTP streaming ----------------------------------------------------------


class _Closed(Exception):
    """The server had closed the connection."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer


class SseTarget:
    """Streams from an OpenAI-compatible ``/v1/chat/completions`` endpoint, as a client of
    the service would: HTTP/1.1 keep-alive, one connection per stream slot."""

    def __init__(self, base_url: str, *, model: str = "fake-model", api_key: str = "sk-bench") -> None:
        hostport = base_url.split("//", 1)[1].split("/", 1)[0]
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        prefix = "/" + base_url.split("//", 1)[1].split("/", 1)[1].strip("/") if base_url.count("/") > 2 else ""
        body = json.dumps(
            {
                "model": model,
                "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "bench"}],
            }
        ).encode()
        self.request = (
            f"POST {prefix}/chat/completions HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {api_key}\r\nAccept: text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.idle: list[_Connection] = []

    async def stream(self) -> dict:
        conn = self.idle.pop() if self.idle else None
        start = time.perf_counter()
        try:
            async with asyncio.timeout(STREAM_TIMEOUT):
                if conn is not None:
                    try:
                        outcome, keep = await self._exchange(conn, start)
                    except _Closed:
                        # the server closed the idle connection (its keep-alive timeout): reconnect,
                        # as an HTTP client's pool does
                        conn.writer.close()
                        conn = None
                if conn is None:
                    conn = _Connection(*await asyncio.open_connection(self.host, self.port, limit=2**20))
                    start = time.perf_counter()  # a connect is not the service's first token
                    outcome, keep = await self._exchange(conn, start)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, _Closed) as exc:
            if conn is not None:
                conn.writer.close()
            return failed(start, exc)
        if keep:
            self.idle.append(conn)
        else:
            conn.writer.close()
        return outcome

    async def _exchange(self, conn: _Connection, start: float) -> tuple[dict, bool]:
        reader = conn.reader
        conn.writer.write(self.request)
        status_line = await reader.readline()
        if not status_line:
            raise _Closed("connection closed before the status line")
        status = int(status_line.split()[1])
        chunked, length, keep = False, None, True
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"content-length":
                length = int(value)
            elif name == b"connection" and value == b"close":
                keep = False
        times: list[float] = []
        frames = 0
        done = False
        pending = b""

        def feed(data: bytes) -> None:
            nonlocal pending, frames, done
            now = time.perf_counter()
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    continue
                event = orjson.loads(payload)
                for choice in event.get("choices") or ():
                    delta = choice.get("delta")
                    if delta and delta.get("content"):
                        frames += 1
                        times.append(now)

        if chunked:
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                feed(await reader.readexactly(size))
                await reader.readexactly(2)
        elif length is not None:
            feed(await reader.readexactly(length))
        else:
            feed(await reader.read())
            keep = False
        ok = status == 200 and done
        return result(start, times, frames, frames, True, ok, 0 if ok else 1) | {"status": status}, keep

    async def run(self, n: int, concurrency: int) -> list[dict]:
        per_slot = max(1, n // concurrency)

        async def drive():
            return [await self.stream() for _ in range(per_slot)]

        batches = await asyncio.gather(*(drive() for _ in range(concurrency)))
        return [s for batch in batches for s in batch]

    async def close(self) -> None:
        for conn in self.idle:
            conn.writer.close()
        self.idle.clear()
