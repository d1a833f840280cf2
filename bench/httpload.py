"""A small HTTP/1.1 keep-alive load generator on asyncio streams (no third-party client, so the
load generator costs little beside the server under test): closed loop, ``connections`` at once."""

from __future__ import annotations

import asyncio
import time


async def _request(reader, writer, head: bytes, body: bytes) -> tuple[int, bytes]:
    writer.write(head + body)
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line[:15].lower() == b"content-length:":
            length = int(line.split(b":", 1)[1])
    payload = await reader.readexactly(length) if length else b""
    return status, payload


def build(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[bytes, bytes]:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), body


async def closed_loop(address: str, requests: list[tuple[bytes, bytes]], *, connections: int, seconds: float) -> dict:
    """Each connection sends requests[i % len] back to back for ``seconds``. Returns count,
    rate, latencies and the statuses seen."""
    host, port = address.split(":")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int):
        reader, writer = await asyncio.open_connection(host, int(port))
        i = offset
        try:
            while time.perf_counter() < stop_at:
                head, body = requests[i % len(requests)]
                i += 1
                t0 = time.perf_counter()
                status, _ = await _request(reader, writer, head, body)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(connections)))
    wall = time.perf_counter() - start
    return {"count": len(latencies), "rate": len(latencies) / wall, "latencies": latencies, "statuses": statuses}


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
