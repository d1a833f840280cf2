"""A small HTTP/1.1 keep-alive load generator on asyncio streams (no third-party client, so the
load generator costs little beside the server under test): closed loop, ``connections`` at once."""

from __future__ import annotations

import asyncio
import time


async def _request(reader, writer, head: bytes, body: bytes) -> tuple[int, bytes]:
    status, payload, _ = await _exchange(reader, writer, head, body)
    return status, payload


async def _exchange(reader, writer, head: bytes, body: bytes) -> tuple[int, bytes, float | None]:
    """One request: status, body and the Retry-After header in seconds (None if absent)."""
    writer.write(head + body)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    retry_after = None
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name = line[:16].lower()
        if name.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif name.startswith(b"retry-after:"):
            try:
                retry_after = float(line.split(b":", 1)[1])
            except ValueError:
                retry_after = None  # an HTTP date: not sent by our services
    payload = await reader.readexactly(length) if length else b""
    return status, payload, retry_after


def build(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[bytes, bytes]:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body


async def closed_loop(
    address: str,
    requests: list[tuple[bytes, bytes]],
    *,
    connections: int,
    seconds: float,
    honour_retry_after: bool = False,
) -> dict:
    """Each connection sends requests[i % len] back to back for ``seconds``. Returns count,
    rate, latencies and the statuses seen. With ``honour_retry_after``, a 429 with
    ``Retry-After`` makes that connection wait that long before its next request, as a
    well-behaved client does (the waits are counted in ``waited_s``)."""
    host, port = address.split(":")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    waited = 0.0
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int):
        nonlocal waited
        reader, writer = await asyncio.open_connection(host, int(port))
        i = offset
        try:
            while time.perf_counter() < stop_at:
                head, body = requests[i % len(requests)]
                i += 1
                t0 = time.perf_counter()
                status, _, retry_after = await _exchange(reader, writer, head, body)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if honour_retry_after and status == 429 and retry_after:
                    pause = max(0.0, min(retry_after, stop_at - time.perf_counter()))
                    waited += pause
                    await asyncio.sleep(pause)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    wall = time.perf_counter() - start
    return {
        "count": len(latencies),
        "rate": len(latencies) / wall,
        "wall": wall,
        "latencies": latencies,
        "statuses": statuses,
        "waited_s": waited,
    }


CEILING_SERVER = r"""
import asyncio, sys
BODY = b'{"conversations":[],"total":0}'
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(RESP)
    except Exception:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""
