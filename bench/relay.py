"""(a) stream relay and (b) concurrent streams: websocket clients through the chat service,
against the bare ``openai`` SDK reading the fake upstream directly and against LiteLLM's proxy
relaying the same upstream, all in the same run.

The upstream is the fake OpenAI-compatible server at the realistic pacing (64 deltas of ~1
token, one every 20 ms). The chat service runs under uvicorn twice, side by side, with
``--loop asyncio --http h11`` and with ``--loop uvloop --http httptools`` (what gunicorn's
uvicorn worker picks, ``auto``, when both are installed), so the two can be compared in one run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench import clients, harness, litellm_proxy
from bench.harness import median, pct
from bench.report import Report
from bench.targets import all_of, at_most, equal
from testkit.fake_openai import PRESETS, FakeOpenAIProcess

DELTAS = 64
PACING = PRESETS["realistic"]

VARIANTS: dict[str, tuple[str, ...]] = {
    "asyncio+h11": ("--loop", "asyncio", "--http", "h11"),
    "uvloop+httptools": ("--loop", "uvloop", "--http", "httptools"),
}
LOOP_OF = {"asyncio+h11": "asyncio", "uvloop+httptools": "uvloop", "LiteLLM": "uvloop"}  # LiteLLM's CLI runs uvloop
PRODUCTION = "uvloop+httptools"  # gunicorn.chat.py's worker ("auto") with both installed

# --- targets (a) -------------------------------------------------------------------------------
CPU_PER_DELTA = at_most(
    60,
    "us",
    "most of it is below the relay: the raw consumer (the SDK's aiohttp read and an event-loop wake-up per "
    "delta, nothing else, see its row) already costs more than the target; the relay adds its log, the "
    "reader's wake-up and a websocket frame",
)
CPU_VS_RAW = at_most(
    1.5,
    "x",
    "the relay does per delta what the raw consumer does (read, split, orjson) and then logs, wakes the "
    "reader and writes a websocket frame: more than half as much work again",
)
TTFT_SOLO = at_most(
    5,
    "ms",
    "the time goes before the ack (see the note): reply_begin's database work (see c) and the SDK request "
    "build on one core, where the raw consumer only builds the request",
)
TTFT_FOUR = at_most(
    8,
    "ms",
    "four replies starting at once on one core queue their reply_begin work (database transactions, SDK "
    "request builds) behind each other",
)
TTFT_P99 = at_most(
    15,
    "ms",
    "the slowest first tokens are the ones queued behind other replies' start-up work on the one core",
)
FRAMES_PER_DELTA = equal(
    1.0,
    "= 1.00",
    "a lone reader got deltas joined: its forwarder woke only after more than one delta had arrived (the "
    "worker was busy or descheduled), so even one stream saw a backlog",
    tolerance=0.0,
)
NOTHING_LOST = "streams failed or arrived out of order: the errors row names how"

# --- targets (b) -------------------------------------------------------------------------------
_GAP_WHY = (
    "replies start late at this load (the TTFT row: the time goes before the ack, in reply_begin for "
    "hundreds of replies at once), their deltas pile up and leave in joined frames far apart"
)
GAP_250 = at_most(20, "ms", _GAP_WHY)
GAP_500 = at_most(100, "ms", _GAP_WHY)
IDLE_SOCKET = at_most(64, "KiB", "each open socket holds uvicorn's and websockets' buffers and the consumer's state")
NO_ERRORS = equal(0, "0", "replies ended in error frames or sockets failed: the note names the kinds")


# --- the direct baselines ------------------------------------------------------------------------


class Consumer:
    """A bare SDK consumer subprocess (``bench.sdk_consumer``), pinned to the service's core."""

    def __init__(self, base_url: str, mode: str, loop: str, http_client: str = "aiohttp") -> None:
        self.label = f"{mode} consumer ({loop}, {http_client})"
        self.proc = subprocess.Popen(  # noqa: S603
            harness.pinned(
                [
                    sys.executable,
                    "-m",
                    "bench.sdk_consumer",
                    base_url,
                    "--mode",
                    mode,
                    "--loop",
                    loop,
                    "--http-client",
                    http_client,
                ],
                harness.SERVICE_CPU,
            ),
            cwd=harness.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, n: int, concurrency: int) -> dict:
        self.proc.stdin.write(json.dumps({"n": n, "concurrency": concurrency}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.label} exited with {self.proc.wait()}")
        return json.loads(line)

    async def arun(self, n: int, concurrency: int) -> dict:
        return await asyncio.to_thread(self.run, n, concurrency)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Side:
    """One relay under test: its client, its CPU meter, the baseline it is compared with."""

    label: str
    client: object  # clients.WsTarget | clients.SseTarget
    cpu: Callable[[], float]
    baseline: str  # loop of the raw consumer it is compared with
    rounds: list[dict] = field(default_factory=list)


async def _phase(run, n: int, concurrency: int, cpu: Callable[[], float] | None = None) -> dict:
    c0 = cpu() if cpu else 0.0
    streams = await run(n, concurrency)
    spent = (cpu() - c0) if cpu else None
    return {"streams": streams, "cpu": spent}


def _round_figures(side_solo, side_four, base_solo, base_four) -> dict:
    s_solo = clients.summary(side_solo["streams"], DELTAS)
    s_four = clients.summary(side_four["streams"], DELTAS)
    clients.check_not_limited({**s_solo["error_kinds"], **s_four["error_kinds"]}, "relay")
    b_solo = clients.summary(base_solo["streams"], DELTAS)
    b_four = clients.summary(base_four["streams"], DELTAS)
    s_all = s_solo["ttfts"] + s_four["ttfts"]
    b_all = b_solo["ttfts"] + b_four["ttfts"]
    return {
        "ttft_solo_added": median(s_solo["ttfts"]) - median(b_solo["ttfts"]),
        "ttft_four_added": s_four["ttft_p50"] - b_four["ttft_p50"],
        "ttft_p99_added": pct(s_all, 99) - pct(b_all, 99),
        "ttft_solo": median(s_solo["ttfts"]),
        "ttft_four": s_four["ttft_p50"],
        "base_ttft_solo": median(b_solo["ttfts"]),
        "base_ttft_four": b_four["ttft_p50"],
        "cpu_per_delta": side_four["cpu"] / max(1, s_four["deltas"]),
        "base_cpu_per_delta": base_four["cpu"] / max(1, b_four["deltas"]),
        "solo_frames": s_solo["frames"],
        "solo_deltas": s_solo["deltas"],
        "frames": s_solo["frames"] + s_four["frames"],
        "deltas": s_solo["deltas"] + s_four["deltas"],
        "expected": s_solo["expected"] + s_four["expected"],
        "complete": s_solo["complete"] + s_four["complete"],
        "streams": s_solo["streams"] + s_four["streams"],
        "errors": s_solo["errors"] + s_four["errors"],
        "gap_p99": s_four["gap_p99"],
        "ack_solo": s_solo["ack_p50"],
        "ack_to_first_solo": s_solo["ack_to_first_p50"],
    }


def relay(report: Report, stack: harness.Stack, auth_target: str, *, rounds: int, solo: int, four: int) -> None:
    """Per round: ``solo`` streams one at a time, then ``four`` streams four at a time (four
    starting at the same instant), through each relay and through the raw consumers."""
    users = harness.sign_up(auth_target, 1)
    cpus = {harness.LOAD_CPU} if harness.PINNED else None
    with FakeOpenAIProcess(preset="realistic", cpus=cpus) as upstream:
        services: list[harness.Service] = []
        consumers: dict[str, Consumer] = {}
        sides: list[Side] = []
        litellm_reason = ""
        try:
            for label, args in VARIANTS.items():
                chat = harness.chat_asgi(
                    stack,
                    auth_target=auth_target,
                    upstream=upstream.base_url,
                    args=args,
                    name=f"chat-asgi-{label.replace('+', '-')}",
                )
                services.append(chat)
                url = chat.address.replace("http://", "ws://").replace("/healthz", "/ws/chat/")
                pid = chat.pid
                sides.append(
                    Side(label, clients.WsTarget(url, users[0]), lambda p=pid: harness.cpu_precise(p), LOOP_OF[label])
                )
            try:
                proxy, base = litellm_proxy.start(stack, upstream.base_url)
                services.append(proxy)
                ppid = proxy.pid
                sides.append(
                    Side(
                        "LiteLLM",
                        clients.SseTarget(base, api_key=proxy.api_key),
                        lambda p=ppid: harness.tree_cpu(p),
                        LOOP_OF["LiteLLM"],
                    )
                )
                report.context["litellm"] = f"LiteLLM {litellm_proxy.version()}, 1 worker, its own venv"
            except litellm_proxy.Unavailable as exc:
                litellm_reason = str(exc)
                report.context["litellm"] = f"LiteLLM unavailable: {litellm_reason}"
            for loop in ("asyncio", "uvloop"):
                consumers[loop] = Consumer(upstream.base_url, "raw", loop)
            consumers["sdk"] = Consumer(upstream.base_url, "sdk", "asyncio", "httpx")  # the SDK as most use it
            sdk_rows = asyncio.run(_relay_rounds(sides, consumers, rounds, solo, four))
        finally:
            for consumer in consumers.values():
                consumer.close()
            for service in services:
                stack.stop(service)
    _relay_report(report, sides, sdk_rows, litellm_reason)


async def _relay_rounds(sides: list[Side], consumers: dict[str, Consumer], rounds: int, solo: int, four: int):
    # warm-up, not counted: every path once, four at once
    for side in sides:
        await side.client.run(4, 4)
    for consumer in consumers.values():
        await consumer.arun(4, 4)
    sdk_rows = []
    for r in range(rounds):
        base = {}
        for loop in ("asyncio", "uvloop"):
            base[loop] = (await consumers[loop].arun(solo, 1), await consumers[loop].arun(four, 4))
        order = sides[r % len(sides) :] + sides[: r % len(sides)]
        for side in order:
            side_solo = await _phase(side.client.run, solo, 1)
            side_four = await _phase(side.client.run, four, 4, side.cpu)
            side.rounds.append(_round_figures(side_solo, side_four, *base[side.baseline]))
        sdk = await consumers["sdk"].arun(four, 4)
        sdk_rows.append(
            {
                "sdk_cpu_per_delta": sdk["cpu"] / max(1, sum(s["deltas"] for s in sdk["streams"])),
                **{
                    f"raw_{loop}_cpu_per_delta": base[loop][1]["cpu"]
                    / max(1, sum(s["deltas"] for s in base[loop][1]["streams"]))
                    for loop in base
                },
                "raw_ttft_solo": median([s["ttft"] for s in base["asyncio"][0]["streams"] if s["ttft"] is not None]),
            }
        )
    for side in sides:
        await side.client.close()
    return sdk_rows


def _side_figures(side: Side) -> dict:
    rows = side.rounds
    frames = sum(r["frames"] for r in rows)
    deltas = sum(r["deltas"] for r in rows)
    expected = sum(r["expected"] for r in rows)
    solo_frames = sum(r["solo_frames"] for r in rows)
    solo_deltas = sum(r["solo_deltas"] for r in rows)
    return {
        "cpu_per_delta": median([r["cpu_per_delta"] for r in rows]) * 1e6,
        "cpu_vs_raw": median([r["cpu_per_delta"] / r["base_cpu_per_delta"] for r in rows]),
        "ttft_solo_added": median([r["ttft_solo_added"] for r in rows]) * 1e3,
        "ttft_four_added": median([r["ttft_four_added"] for r in rows]) * 1e3,
        "ttft_p99_added": median([r["ttft_p99_added"] for r in rows]) * 1e3,
        "ttft_solo": median([r["ttft_solo"] for r in rows]) * 1e3,
        "ack_solo": median([r["ack_solo"] for r in rows]) * 1e3,
        "ack_to_first_solo": median([r["ack_to_first_solo"] for r in rows]) * 1e3,
        "frames_per_delta": frames / deltas if deltas else float("nan"),
        "solo_frames_per_delta": solo_frames / solo_deltas if solo_deltas else float("nan"),
        "deltas": deltas,
        "expected": expected,
        "complete": sum(r["complete"] for r in rows),
        "streams": sum(r["streams"] for r in rows),
        "errors": sum(r["errors"] for r in rows),
    }


def _relay_report(report: Report, sides: list[Side], sdk_rows: list[dict], litellm_reason: str) -> None:
    b = "a"
    figures = {side.label: _side_figures(side) for side in sides}
    report.context["relay_rounds"] = {side.label: side.rounds for side in sides}
    report.context["relay_baselines"] = sdk_rows
    lite = figures.get("LiteLLM")
    na = f"n/a: {litellm_reason}" if litellm_reason else ""
    if litellm_reason:
        report.add(b, "LiteLLM proxy", None, "", note=f"unavailable: {litellm_reason}")

    def side_by_side(key):
        return {"litellm": lite[key]} if lite else {"litellm_note": na}

    for label in VARIANTS:
        f = figures[label]
        tag = f"[{label}]"
        report.add(
            b,
            f"{tag} relay CPU per delta",
            f["cpu_per_delta"],
            "us",
            target=CPU_PER_DELTA,
            **side_by_side("cpu_per_delta"),
        )
        report.add(
            b,
            f"{tag} relay CPU / raw consumer CPU per delta",
            f["cpu_vs_raw"],
            "x",
            target=CPU_VS_RAW,
            note=f"raw consumer on {LOOP_OF[label]}",
            **side_by_side("cpu_vs_raw"),
        )
        report.add(
            b,
            f"{tag} added time to first token p50, one stream alone",
            f["ttft_solo_added"],
            "ms",
            target=TTFT_SOLO,
            note=f"TTFT {f['ttft_solo']:.1f} ms: {f['ack_solo']:.1f} ms to the ack, "
            f"{f['ack_to_first_solo']:.1f} ms from the ack to the first delta",
            **side_by_side("ttft_solo_added"),
        )
        report.add(
            b,
            f"{tag} added time to first token p50, four at once",
            f["ttft_four_added"],
            "ms",
            target=TTFT_FOUR,
            **side_by_side("ttft_four_added"),
        )
        report.add(
            b,
            f"{tag} added time to first token p99",
            f["ttft_p99_added"],
            "ms",
            target=TTFT_P99,
            **side_by_side("ttft_p99_added"),
        )
        report.add(
            b,
            f"{tag} frames out / deltas in, one stream alone (no backlog)",
            f["solo_frames_per_delta"],
            "",
            target=FRAMES_PER_DELTA,
            **side_by_side("solo_frames_per_delta"),
        )
        report.add(
            b,
            f"{tag} frames out / deltas in, all rounds",
            f["frames_per_delta"],
            "",
            note="below 1.00: a reader fell behind and got deltas joined",
            **side_by_side("frames_per_delta"),
        )
        report.add(
            b,
            f"{tag} deltas delivered, in order",
            # a stream incomplete or out of order counts as a loss even when the total matches
            f["deltas"] if f["complete"] == f["streams"] else min(f["deltas"], f["expected"] - 1),
            f"/ {f['expected']:,}",
            target=all_of(f["expected"], NOTHING_LOST),
            note=f"{f['complete']}/{f['streams']} streams complete, {f['errors']} errors",
            **side_by_side("deltas"),
        )
    # context: the baselines
    report.add(
        b,
        "raw consumer CPU per delta (asyncio, aiohttp transport)",
        median([r["raw_asyncio_cpu_per_delta"] for r in sdk_rows]) * 1e6,
        "us",
    )
    report.add(
        b,
        "raw consumer CPU per delta (uvloop, aiohttp transport)",
        median([r["raw_uvloop_cpu_per_delta"] for r in sdk_rows]) * 1e6,
        "us",
    )
    sdk_cpu = median([r["sdk_cpu_per_delta"] for r in sdk_rows]) * 1e6
    report.add(
        b,
        "SDK object-stream consumer CPU per delta (asyncio, httpx transport)",
        sdk_cpu,
        "us",
        note="context: the SDK's pydantic chunks",
    )
    prod = figures[PRODUCTION]
    report.add(
        b,
        f"[{PRODUCTION}] relay CPU / SDK object-stream consumer CPU",
        prod["cpu_per_delta"] / sdk_cpu if sdk_cpu else None,
        "x",
        **({"litellm": lite["cpu_per_delta"] / sdk_cpu} if lite and sdk_cpu else {"litellm_note": na}),
    )
    report.add(
        b,
        "raw consumer time to first token p50, one stream",
        median([r["raw_ttft_solo"] for r in sdk_rows]) * 1e3,
        "ms",
    )
    # the loop/parser comparison
    fa, fu = figures["asyncio+h11"], figures["uvloop+httptools"]
    cpu_ratio = median(
        [u["cpu_per_delta"] / a["cpu_per_delta"] for a, u in zip(sides[0].rounds, sides[1].rounds, strict=True)]
    )
    ttft_diff = fu["ttft_solo_added"] - fa["ttft_solo_added"]
    winner = "uvloop+httptools" if cpu_ratio < 1 else "asyncio+h11"
    report.context["loop_winner"] = winner
    report.add(
        b,
        "uvloop+httptools / asyncio+h11 relay CPU per delta",
        cpu_ratio,
        "x",
        note=f"below 1: uvloop+httptools costs less; winner on CPU: {winner}",
    )
    report.add(b, "uvloop+httptools - asyncio+h11 added TTFT p50 (one stream)", ttft_diff, "ms")


# --- (b) many streams on one worker -----------------------------------------------------------


def concurrent(
    report: Report, stack: harness.Stack, auth_target: str, *, levels: list[int], idle: int, litellm_levels: list[int]
) -> None:
    users = harness.sign_up(auth_target, 10)
    cpus = {harness.LOAD_CPU} if harness.PINNED else None
    with FakeOpenAIProcess(preset="realistic", cpus=cpus) as upstream:
        ceiling = asyncio.run(_upstream_ceiling(upstream.base_url, max(levels)))
        report.context["upstream_raw_client"] = ceiling
        lite: dict[int, dict] = {}
        litellm_reason = ""
        try:
            proxy, base = litellm_proxy.start(stack, upstream.base_url)
            try:
                lite = asyncio.run(_litellm_levels(base, proxy, litellm_levels))
            finally:
                stack.stop(proxy)
            report.context["litellm_concurrent"] = lite
        except litellm_proxy.Unavailable as exc:
            litellm_reason = str(exc)
        chat = harness.chat_asgi(stack, auth_target=auth_target, upstream=upstream.base_url, args=VARIANTS[PRODUCTION])
        url = chat.address.replace("http://", "ws://").replace("/healthz", "/ws/chat/")
        try:
            asyncio.run(
                _concurrent(report, url, users, chat.pid, levels, idle, ceiling, lite, litellm_levels, litellm_reason)
            )
        finally:
            stack.stop(chat)


async def _litellm_levels(base: str, proxy: harness.Service, levels: list[int]) -> dict[int, dict]:
    out = {}
    for n in levels:
        target = clients.SseTarget(base, api_key=proxy.api_key)
        await target.run(min(n, 8), min(n, 8))  # warm-up
        cpu0 = harness.tree_cpu(proxy.pid)
        start = time.perf_counter()
        streams = await target.run(n, n)
        wall = time.perf_counter() - start
        await target.close()
        s = clients.summary(streams, DELTAS)
        out[n] = {
            "deltas": s["deltas"],
            "expected": s["expected"],
            "complete": s["complete"],
            "errors": s["errors"],
            "error_kinds": s["error_kinds"],
            "gap_p99_added_ms": (s["gap_p99"] - PACING.delta_interval) * 1e3,
            "frames_per_delta": s["frames"] / s["deltas"] if s["deltas"] else float("nan"),
            "ttft_p99_ms": s["ttft_p99"] * 1e3,
            "wall_s": wall,
            "cpu_s": harness.tree_cpu(proxy.pid) - cpu0,
        }
        print(f"      LiteLLM, {n} streams: {out[n]}", flush=True)
        await asyncio.sleep(1)
    return out


async def _upstream_ceiling(base_url: str, n: int) -> dict:
    """The upstream's own delivery to a cheap raw-socket client (no SDK): n streams at once."""
    target = clients.SseTarget(base_url)
    start = time.perf_counter()
    streams = await target.run(n, n)
    wall = time.perf_counter() - start
    await target.close()
    s = clients.summary(streams, DELTAS)
    return {
        "streams": n,
        "wall_s": wall,
        "deltas_per_s": s["deltas"] / wall,
        "gap_p99_ms": s["gap_p99"] * 1e3,
        "deltas": s["deltas"],
    }


async def _concurrent(
    report, url, users, chat_pid, levels, idle, ceiling, lite, litellm_levels, litellm_reason
) -> None:
    b = "b"
    na = f"n/a: {litellm_reason}" if litellm_reason else ""
    if litellm_reason:
        report.add(b, "LiteLLM proxy", None, "", note=f"unavailable: {litellm_reason}")
    # Idle sockets first: memory per open, authenticated, idle socket.
    await asyncio.sleep(1)
    rss0 = harness.rss_bytes(chat_pid)
    sockets = []
    for i in range(idle):
        sockets.append(await clients.ws_open(url, users[i % len(users)]))
    await asyncio.sleep(3)
    rss1 = harness.rss_bytes(chat_pid)
    cpu0 = harness.cpu_precise(chat_pid)
    await asyncio.sleep(5)
    idle_cpu = (harness.cpu_precise(chat_pid) - cpu0) / 5
    per_socket = (rss1 - rss0) / idle
    report.add(b, f"memory per idle socket ({idle} open)", per_socket / 1024, "KiB", target=IDLE_SOCKET)
    report.add(b, f"service CPU with {idle} idle sockets", idle_cpu * 100, "% of a core")
    conversations = await asyncio.gather(*(clients.ws_conversation(ws) for ws in sockets[: max(levels)]))
    gap_targets = {250: GAP_250, 500: GAP_500}
    for n in levels:
        cpu0 = harness.cpu_precise(chat_pid)
        start = time.perf_counter()
        results = await asyncio.gather(
            *(clients.ws_stream(ws, c) for ws, c in zip(sockets[:n], conversations[:n], strict=True))
        )
        wall = time.perf_counter() - start
        cpu = harness.cpu_precise(chat_pid) - cpu0
        s = clients.summary(results, DELTAS)
        clients.check_not_limited(s["error_kinds"], f"{n} streams")
        added_p99 = s["gap_p99"] - PACING.delta_interval
        rate = s["deltas"] / wall
        near = rate >= 0.9 * ceiling["deltas_per_s"] * min(1, n / ceiling["streams"])
        everything = s["complete"] == n

        def beside(key: str, n: int = n) -> dict:
            if n in lite:
                return {"litellm": lite[n][key]}
            if n in litellm_levels and na:
                return {"litellm_note": na}
            return {}

        report.add(
            b,
            f"{n} streams: deltas delivered, in order",
            s["deltas"] if everything else min(s["deltas"], s["expected"] - 1),
            f"/ {s['expected']:,}",
            target=all_of(s["expected"], NOTHING_LOST),
            note=f"{s['complete']}/{n} streams complete",
            **beside("deltas"),
        )
        report.add(
            b,
            f"{n} streams: p99 added gap",
            added_p99 * 1e3,
            "ms",
            target=gap_targets.get(n),
            near_ceiling=near,
            note=f"p50 gap {s['gap_p50'] * 1e3:.1f} ms",
            **beside("gap_p99_added_ms"),
        )
        report.add(
            b,
            f"{n} streams: time to first token p99",
            s["ttft_p99"] * 1e3,
            "ms",
            note=f"p50 {s['ttft_p50'] * 1e3:.0f} ms: {s['ack_p50'] * 1e3:.0f} ms to the ack, "
            f"{s['ack_to_first_p50'] * 1e3:.0f} ms from the ack to the first delta",
            **beside("ttft_p99_ms"),
        )
        report.add(
            b,
            f"{n} streams: frames out / deltas in",
            s["frames"] / s["deltas"] if s["deltas"] else None,
            "",
            note="below 1.00: deltas joined for readers that fell behind",
            **beside("frames_per_delta"),
        )
        kinds = "; ".join(f"{k} x{v}" for k, v in s["error_kinds"].items())
        report.add(b, f"{n} streams: errors", s["errors"], "", target=NO_ERRORS, note=kinds[:300], **beside("errors"))
        report.add(
            b,
            f"{n} streams: wall time (ideal {DELTAS * PACING.delta_interval:.2f} s)",
            wall,
            "s",
            note=f"service CPU {cpu / wall * 100:.0f}% of its core",
            **beside("wall_s"),
        )
        report.context[f"concurrent_{n}"] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "frames": s["frames"],
            "deltas": s["deltas"],
            "complete": s["complete"],
            "errors": s["errors"],
            "error_kinds": s["error_kinds"],
            "gap_p50_ms": s["gap_p50"] * 1e3,
            "gap_p99_ms": s["gap_p99"] * 1e3,
            "ttft_p50_ms": s["ttft_p50"] * 1e3,
            "ttft_p99_ms": s["ttft_p99"] * 1e3,
            "ack_p50_ms": s["ack_p50"] * 1e3,
            "ack_to_first_p50_ms": s["ack_to_first_p50"] * 1e3,
            "deltas_per_s": rate,
        }
        await asyncio.sleep(1)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
