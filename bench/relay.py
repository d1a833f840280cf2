"""(a) stream relay and (b) concurrent streams: websocket clients through the chat service
versus the ``openai`` SDK reading the fake upstream directly."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import websockets

from bench import harness
from bench.harness import median, pct
from bench.report import Report
from testkit.fake_openai import PRESETS, FakeOpenAIProcess

DELTAS = 64


class DirectConsumer:
    """The bare SDK consumer subprocess, pinned to the service's core."""

    def __init__(self, base_url: str) -> None:
        cpus = {harness.SERVICE_CPU} if harness.PINNED else None
        self.proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.sdk_consumer", base_url],
            cwd=harness.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=(lambda: __import__("os").sched_setaffinity(0, cpus)) if cpus else None,
        )

    def run(self, n: int, concurrency: int) -> dict:
        self.proc.stdin.write(json.dumps({"n": n, "concurrency": concurrency}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


async def _ws_open(url: str, user: harness.User):
    return await websockets.connect(
        url,
        additional_headers={"Authorization": user.bearer},
        compression=None,
        max_size=2**22,
        open_timeout=60,
        ping_interval=None,
    )


async def _ws_conversation(ws) -> str:
    """Start a conversation on this socket (one short reply) and return its id."""
    await ws.send(json.dumps({"type": "message", "content": "hello"}))
    conversation_id = None
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == "ack":
            conversation_id = frame["conversation_id"]
        if frame["type"] in ("done", "error"):
            return conversation_id


async def _ws_stream(ws, conversation_id: str | None) -> dict:
    start = time.perf_counter()
    frame_msg = {"type": "message", "content": "bench"}
    if conversation_id:
        frame_msg["conversation_id"] = conversation_id
    await ws.send(json.dumps(frame_msg))
    times, seqs, errors, final = [], [], 0, None
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=120)
        now = time.perf_counter()
        frame = json.loads(raw)
        kind = frame["type"]
        if kind == "delta":
            times.append(now)
            seqs.append(frame["seq"])
        elif kind == "error":
            errors += 1
            final = frame
            break
        elif kind == "done":
            final = frame
            break
    return {
        "ttft": times[0] - start if times else None,
        "gaps": [b - a for a, b in zip(times, times[1:], strict=False)],
        "deltas": len(times),
        "in_order": seqs == list(range(1, len(seqs) + 1)),
        "errors": errors,
        "done": final is not None and final["type"] == "done",
        "end": now - start,
    }


async def _ws_round(sockets: list, conversations: list, n: int) -> list[dict]:
    """n streams over the given sockets, as many at once as there are sockets."""
    results: list[dict] = []
    per_socket = max(1, n // len(sockets))

    async def drive(ws, conversation_id):
        for _ in range(per_socket):
            results.append(await _ws_stream(ws, conversation_id))

    await asyncio.gather(*(drive(ws, c) for ws, c in zip(sockets, conversations, strict=True)))
    return results


def _summary(streams: list[dict]) -> dict:
    ttfts = [s["ttft"] for s in streams if s["ttft"] is not None]
    gaps = [g for s in streams for g in s["gaps"]]
    return {
        "ttft_p50": pct(ttfts, 50),
        "ttft_p99": pct(ttfts, 99),
        "gap_p50": pct(gaps, 50),
        "gap_p99": pct(gaps, 99),
        "deltas": sum(s["deltas"] for s in streams),
        "streams": len(streams),
        "ttfts": ttfts,
    }


def relay(
    report: Report, stack: harness.Stack, auth_target: str, *, rounds: int, per_round: int, concurrency: int
) -> None:
    users = harness.sign_up(auth_target, 2)
    for preset in ("realistic", "stress"):
        pacing = PRESETS[preset]
        label = f"{pacing.delta_interval * 1000:g} ms"
        with FakeOpenAIProcess(preset=preset, cpus={harness.LOAD_CPU} if harness.PINNED else None) as upstream:
            chat = harness.chat_asgi(stack, auth_target=auth_target, upstream=upstream.base_url)
            url = chat.address.replace("http://", "ws://").replace("/healthz", "/ws/chat/")
            direct = DirectConsumer(upstream.base_url)
            try:
                rows = asyncio.run(_relay_rounds(url, users[0], direct, chat.pid, rounds, per_round, concurrency))
            finally:
                direct.close()
                chat.stop()
                stack.services.remove(chat)
        added_ttft_p50 = median([r["svc"]["ttft_p50"] - r["dir"]["ttft_p50"] for r in rows])
        added_ttft_p99 = median([r["svc"]["ttft_p99"] - r["dir"]["ttft_p99"] for r in rows])
        added_gap_p50 = median([r["svc"]["gap_p50"] - r["dir"]["gap_p50"] for r in rows])
        added_gap_p99 = median([r["svc"]["gap_p99"] - r["dir"]["gap_p99"] for r in rows])
        frames = sum(r["svc"]["deltas"] for r in rows)
        expected = sum(r["svc"]["streams"] for r in rows) * DELTAS
        cpu_ratio = median([r["svc_cpu_per_delta"] / r["dir_cpu_per_delta"] for r in rows])
        b = "a"
        report.add(
            b, f"[{label}] direct SDK time to first token p50", median([r["dir"]["ttft_p50"] for r in rows]) * 1e3, "ms"
        )
        report.add(
            b,
            f"[{label}] added time to first token p50",
            added_ttft_p50 * 1e3,
            "ms",
            target="<= 5 ms",
            ok=added_ttft_p50 <= 0.005,
        )
        report.add(
            b,
            f"[{label}] added time to first token p99",
            added_ttft_p99 * 1e3,
            "ms",
            target="<= 15 ms",
            ok=added_ttft_p99 <= 0.015,
        )
        report.add(
            b,
            f"[{label}] added inter-token gap p50",
            added_gap_p50 * 1e6,
            "us",
            target="<= 50 us",
            ok=added_gap_p50 <= 50e-6,
        )
        report.add(
            b,
            f"[{label}] added inter-token gap p99",
            added_gap_p99 * 1e3,
            "ms",
            target="<= 2 ms",
            ok=added_gap_p99 <= 0.002,
        )
        report.add(
            b,
            f"[{label}] frames out / deltas in",
            frames / expected if expected else None,
            "",
            target="= 1.00",
            ok=frames == expected,
        )
        report.add(b, f"[{label}] relay CPU per delta", median([r["svc_cpu_per_delta"] for r in rows]) * 1e6, "us")
        report.add(
            b, f"[{label}] bare SDK consumer CPU per delta", median([r["dir_cpu_per_delta"] for r in rows]) * 1e6, "us"
        )
        report.add(
            b, f"[{label}] relay CPU / bare SDK CPU per delta", cpu_ratio, "x", target="<= 3x", ok=cpu_ratio <= 3
        )
        report.context[f"relay_rounds_{preset}"] = [
            {k: v for k, v in r.items() if k not in ("svc", "dir")}
            | {
                "svc": {k: v for k, v in r["svc"].items() if k != "ttfts"},
                "dir": {k: v for k, v in r["dir"].items() if k != "ttfts"},
            }
            for r in rows
        ]


async def _relay_rounds(url, user, direct, chat_pid, rounds, per_round, concurrency) -> list[dict]:
    sockets = [await _ws_open(url, user) for _ in range(concurrency)]
    conversations = [await _ws_conversation(ws) for ws in sockets]
    # warm-up: both paths, not counted
    await _ws_round(sockets, conversations, concurrency)
    await asyncio.to_thread(direct.run, concurrency, concurrency)
    rows = []
    for _ in range(rounds):
        d = await asyncio.to_thread(direct.run, per_round, concurrency)
        cpu0 = harness.cpu_seconds(chat_pid)
        s = await _ws_round(sockets, conversations, per_round)
        svc_cpu = harness.cpu_seconds(chat_pid) - cpu0
        svc, dirs = _summary(s), _summary(d["streams"])
        rows.append(
            {
                "svc": svc,
                "dir": dirs,
                "svc_cpu_per_delta": svc_cpu / max(1, svc["deltas"]),
                "dir_cpu_per_delta": d["cpu"] / max(1, dirs["deltas"]),
                "svc_complete": all(x["done"] and x["in_order"] and x["deltas"] == DELTAS for x in s),
            }
        )
    for ws in sockets:
        await ws.close()
    return rows


# --- (b) many streams on one worker -----------------------------------------------------------


def concurrent(report: Report, stack: harness.Stack, auth_target: str, *, levels: list[int], idle: int) -> None:
    users = harness.sign_up(auth_target, 10)
    with FakeOpenAIProcess(preset="realistic", cpus={harness.LOAD_CPU} if harness.PINNED else None) as upstream:
        ceiling = asyncio.run(_upstream_ceiling(upstream.base_url, max(levels)))
        report.context["upstream_raw_client"] = ceiling
        chat = harness.chat_asgi(stack, auth_target=auth_target, upstream=upstream.base_url)
        url = chat.address.replace("http://", "ws://").replace("/healthz", "/ws/chat/")
        try:
            asyncio.run(_concurrent(report, url, users, chat.pid, levels, idle, ceiling))
        finally:
            chat.stop()
            stack.services.remove(chat)


async def _upstream_ceiling(base_url: str, n: int) -> dict:
    """The upstream's own delivery with a raw-socket client (no SDK): n streams at once."""
    host, port = base_url.split("//")[1].split("/")[0].split(":")
    body = json.dumps({"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()

    async def one():
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head + body)
        times = []
        while True:
            line = await reader.readline()
            if not line:
                break
            if line.startswith(b"data: {") and b'"content":"' in line and b'"content":""' not in line:
                times.append(time.perf_counter())
        writer.close()
        return times

    start = time.perf_counter()
    streams = await asyncio.gather(*(one() for _ in range(n)))
    wall = time.perf_counter() - start
    gaps = [b - a for t in streams for a, b in zip(t, t[1:], strict=False)]
    deltas = sum(len(t) for t in streams)
    return {
        "streams": n,
        "wall_s": wall,
        "deltas_per_s": deltas / wall,
        "gap_p99_ms": pct(gaps, 99) * 1e3,
        "deltas": deltas,
    }


async def _concurrent(report, url, users, chat_pid, levels, idle, ceiling) -> None:
    b = "b"
    # Idle sockets first: memory per open, authenticated, idle socket.
    await asyncio.sleep(1)
    rss0 = harness.rss_bytes(chat_pid)
    sockets = []
    for i in range(idle):
        sockets.append(await _ws_open(url, users[i % len(users)]))
    await asyncio.sleep(3)
    rss1 = harness.rss_bytes(chat_pid)
    cpu0 = harness.cpu_seconds(chat_pid)
    await asyncio.sleep(5)
    idle_cpu = (harness.cpu_seconds(chat_pid) - cpu0) / 5
    per_socket = (rss1 - rss0) / idle
    report.add(
        b,
        f"memory per idle socket ({idle} open)",
        per_socket / 1024,
        "KiB",
        target="<= 64 KiB",
        ok=per_socket <= 64 * 1024,
    )
    report.add(b, f"service CPU with {idle} idle sockets", idle_cpu * 100, "% of a core")
    conversations = await asyncio.gather(*(_ws_conversation(ws) for ws in sockets[: max(levels)]))
    for n in levels:
        cpu0 = harness.cpu_seconds(chat_pid)
        start = time.perf_counter()
        results = await asyncio.gather(
            *(_ws_stream(ws, c) for ws, c in zip(sockets[:n], conversations[:n], strict=True)), return_exceptions=True
        )
        wall = time.perf_counter() - start
        cpu = harness.cpu_seconds(chat_pid) - cpu0
        ok = [r for r in results if isinstance(r, dict)]
        exceptions = len(results) - len(ok)
        errors = sum(r["errors"] for r in ok) + exceptions
        complete = sum(1 for r in ok if r["done"] and r["in_order"] and r["deltas"] == DELTAS)
        gaps = [g for r in ok for g in r["gaps"]]
        added_p99 = pct(gaps, 99) - PRESETS["realistic"].delta_interval
        frames = sum(r["deltas"] for r in ok)
        rate = frames / wall
        near = rate >= 0.9 * ceiling["deltas_per_s"] * min(1, n / ceiling["streams"])
        everything = complete == n
        report.add(
            b,
            f"{n} streams: complete with every frame",
            complete,
            f"/ {n}",
            target="all",
            ok=everything if n <= 500 else None,
        )
        report.add(
            b,
            f"{n} streams: p99 added gap",
            added_p99 * 1e3,
            "ms",
            target="<= 20 ms" if n <= 500 else "",
            ok=(added_p99 <= 0.020) if n <= 500 else None,
            near_ceiling=near,
        )
        report.add(b, f"{n} streams: errors", errors, "", target="0", ok=errors == 0)
        report.add(
            b,
            f"{n} streams: wall time (ideal {DELTAS * 0.02:.2f} s)",
            wall,
            "s",
            note=f"service CPU {cpu / wall * 100:.0f}% of its core",
        )
        report.context[f"concurrent_{n}"] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "frames": frames,
            "complete": complete,
            "errors": errors,
            "gap_p50_ms": pct(gaps, 50) * 1e3,
            "gap_p99_ms": pct(gaps, 99) * 1e3,
            "deltas_per_s": rate,
        }
        await asyncio.sleep(1)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
