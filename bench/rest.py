# ruff: noqa: S603 - bench harness: fixed argv of our own modules; closures run inside their loop iteration
"""(d) Authenticated ``GET /v1/chat/conversations`` on the chat service versus a bare Django
``JsonResponse`` view doing the same indexed query in the same server, and the same DRF view
without authentication (bench-only URLs in ``bench.urls_chat``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from bench import harness, httpload
from bench.harness import median, pct
from bench.report import Report
from bench.targets import at_least, equal
from testkit.fake_openai import FakeOpenAIProcess

CONNECTIONS = 8

SERVICE_VS_BARE = at_least(0.5, "x", "DRF's request, serializer and renderer layers cost more than the query they wrap")
AUTH_VS_NOAUTH = at_least(0.9, "x", "token verification per request costs more than a tenth of a list call")
NO_ERRORS = equal(0, "0", "requests failed: see the service's log in the bench's temporary directory")


def run(report: Report, stack: harness.Stack, auth_target: str, *, rounds: int, seconds: float) -> None:
    user = harness.sign_up(auth_target)[0]
    with FakeOpenAIProcess(preset="instant", cpus={harness.LOAD_CPU} if harness.PINNED else None) as upstream:
        chat = harness.chat_asgi(stack, auth_target=auth_target, upstream=upstream.base_url)
        try:
            asyncio.run(_run(report, chat, user, rounds, seconds))
        finally:
            stack.stop(chat)


def _ceiling(seconds: float) -> float:
    proc = subprocess.Popen(
        harness.pinned([sys.executable, "-c", httpload.CEILING_SERVER], harness.SERVICE_CPU),
        stdout=subprocess.PIPE,
        text=True,  # noqa: S603
    )
    try:
        port = int(proc.stdout.readline())
        request = httpload.build("GET", "/x", "127.0.0.1")
        return asyncio.run(
            httpload.closed_loop(f"127.0.0.1:{port}", [request], connections=CONNECTIONS, seconds=seconds)
        )["rate"]
    finally:
        proc.terminate()
        proc.wait()


async def _run(report: Report, chat: harness.Service, user: harness.User, rounds: int, seconds: float) -> None:
    address = chat.address.split("//")[1].split("/")[0]
    host = "127.0.0.1"
    create = httpload.build(
        "POST", "/v1/chat/conversations", host, {"Authorization": user.bearer}, json.dumps({"title": "bench"}).encode()
    )
    await httpload.closed_loop(address, [create], connections=1, seconds=0.5)  # some conversations to list
    variants = {
        "service": httpload.build("GET", "/v1/chat/conversations", host, {"Authorization": user.bearer}),
        "bare": httpload.build("GET", f"/bench/bare/conversations?user={user.user_id}", host),
        "noauth": httpload.build("GET", f"/bench/noauth/conversations?user={user.user_id}", host),
    }
    for request in variants.values():  # warm-up
        await httpload.closed_loop(address, [request], connections=CONNECTIONS, seconds=0.5)
    rates: dict[str, list[float]] = {k: [] for k in variants}
    p99s: dict[str, list[float]] = {k: [] for k in variants}
    bad = 0
    for _ in range(rounds):
        for name, request in variants.items():
            result = await httpload.closed_loop(address, [request], connections=CONNECTIONS, seconds=seconds)
            rates[name].append(result["rate"])
            p99s[name].append(pct(result["latencies"], 99))
            bad += sum(v for k, v in result["statuses"].items() if k != 200)
    ceiling = await asyncio.to_thread(_ceiling, seconds)
    b = "d"
    svc, bare, noauth = (median(rates[k]) for k in ("service", "bare", "noauth"))
    report.add(
        b,
        "GET /v1/chat/conversations (auth, DRF) requests/s",
        svc,
        "req/s",
        note=f"p99 {median(p99s['service']) * 1e3:.1f} ms, {CONNECTIONS} connections",
        near_ceiling=svc >= 0.9 * ceiling,
    )
    report.add(b, "bare JsonResponse view, same query, requests/s", bare, "req/s", near_ceiling=bare >= 0.9 * ceiling)
    report.add(b, "same DRF view without auth, requests/s", noauth, "req/s", near_ceiling=noauth >= 0.9 * ceiling)
    ratio = median([s / b_ for s, b_ in zip(rates["service"], rates["bare"], strict=True)])
    auth_ratio = median([s / n for s, n in zip(rates["service"], rates["noauth"], strict=True)])
    report.add(b, "service / bare view", ratio, "x", target=SERVICE_VS_BARE)
    report.add(b, "with auth / without auth", auth_ratio, "x", target=AUTH_VS_NOAUTH)
    report.add(b, "load generator ceiling (trivial asyncio server, same core)", ceiling, "req/s")
    report.add(b, "non-200 answers", bad, "", target=NO_ERRORS)
