"""(f) gRPC ``ListConversations`` through django-grpc-framework and the site's interceptors
(correlation id, logging, metrics, error mapping, authentication) versus a plain grpcio
servicer doing the same work (the same token verification, ORM queries and response; see
``bench.bare_grpc``), so the ratio is the framework's cost; and the health check's latency
while 200 ``StreamChatWithAI`` streams run."""

from __future__ import annotations

import asyncio
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import clients, harness
from bench.harness import median, pct
from bench.report import Report
from bench.targets import at_least, at_most, equal
from protos import chat_pb2, chat_pb2_grpc
from testkit.fake_openai import FakeOpenAIProcess

CALLERS = 8

SERVICE_VS_BARE = at_least(
    0.6,
    "x",
    "the framework's per-call layers (five interceptors, each rebuilding the handler, structured logging "
    "and Prometheus metrics per call) cost more than the call's own work",
)
NO_ERRORS = equal(0, "0", "calls failed: see the service's log in the bench's temporary directory")
HEALTH_UNDER_STREAMS = at_most(
    50,
    "ms",
    "each StreamChatWithAI holds a worker thread for its whole reply; health checks share the GIL "
    "and the thread pool with them",
)


async def _closed_loop(target: str, metadata, seconds: float) -> tuple[float, int]:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        stop_at = time.perf_counter() + seconds
        count = 0
        errors = 0

        async def caller():
            nonlocal count, errors
            while time.perf_counter() < stop_at:
                try:
                    await stub.ListConversations(chat_pb2.ListConversationsRequest(limit=20), metadata=metadata)
                    count += 1
                except grpc.RpcError:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(CALLERS)))
        return count / (time.perf_counter() - t0), errors


def run(report: Report, stack: harness.Stack, auth_target: str, *, rounds: int, streams: int) -> None:
    user = harness.sign_up(auth_target)[0]
    metadata = (("authorization", user.bearer),)
    with FakeOpenAIProcess(preset="realistic", cpus={harness.LOAD_CPU} if harness.PINNED else None) as upstream:
        chat = harness.chat_grpc(stack, auth_target=auth_target, upstream=upstream.base_url)
        with grpc.insecure_channel(chat.address) as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            for i in range(20):
                stub.CreateConversation(chat_pb2.Conversation(title=f"bench conversation {i}"), metadata=metadata)
            response = stub.ListConversations(chat_pb2.ListConversationsRequest(limit=20), metadata=metadata)
        bare_target = f"127.0.0.1:{harness.free_port()}"
        bare = stack.start(
            "bare-grpc",
            [sys.executable, "-m", "bench.bare_grpc", bare_target],
            site="chat",
            cpu=harness.SERVICE_CPU,
            ready=bare_target,
            env={"AUTH_GRPC_TARGET": auth_target},
        )
        try:
            svc_rates, bare_rates, errors = [], [], 0
            asyncio.run(_closed_loop(chat.address, metadata, 0.5))
            asyncio.run(_closed_loop(bare_target, metadata, 0.5))
            bare_errors = 0
            for _ in range(rounds):
                rate, e = asyncio.run(_closed_loop(chat.address, metadata, 1.5))
                svc_rates.append(rate)
                errors += e
                rate, e = asyncio.run(_closed_loop(bare_target, metadata, 1.5))
                bare_rates.append(rate)
                bare_errors += e
            stack.stop(bare)
            ratio = median([s / b_ for s, b_ in zip(svc_rates, bare_rates, strict=True)])
            b = "f"
            report.add(
                b,
                "ListConversations via django-grpc-framework, calls/s",
                median(svc_rates),
                "calls/s",
                note=f"{len(response.SerializeToString())}-byte answer, {CALLERS} callers",
            )
            report.add(
                b,
                "plain grpcio servicer, same verification and queries, calls/s",
                median(bare_rates),
                "calls/s",
            )
            report.add(b, "service / plain servicer", ratio, "x", target=SERVICE_VS_BARE)
            report.add(
                b,
                "errors (service + plain servicer)",
                errors + bare_errors,
                "",
                target=NO_ERRORS,
                note=f"service {errors}, plain servicer {bare_errors}",
            )
            health = asyncio.run(_health_under_streams(chat.address, metadata, streams))
            p99 = pct(health["latencies"], 99)
            report.add(
                b,
                f"health Check p99 while {streams} StreamChatWithAI run",
                p99 * 1e3,
                "ms",
                target=HEALTH_UNDER_STREAMS,
                note=f"p50 {pct(health['latencies'], 50) * 1e3:.1f} ms; "
                f"{health['complete']}/{streams} streams complete in {health['wall']:.1f} s",
            )
            base = asyncio.run(_health_under_streams(chat.address, metadata, 0))
            report.add(b, "health Check p99 idle", pct(base["latencies"], 99) * 1e3, "ms")
        finally:
            stack.stop(chat)


async def _health_under_streams(target: str, metadata, streams: int) -> dict:
    async with grpc.aio.insecure_channel(target) as channel, grpc.aio.insecure_channel(target) as health_channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        health = health_pb2_grpc.HealthStub(health_channel)
        complete = 0

        async def stream():
            nonlocal complete
            deltas = 0
            try:
                async for event in stub.StreamChatWithAI(
                    chat_pb2.ChatWithAIRequest(message="bench"), metadata=metadata
                ):
                    if event.HasField("delta"):
                        # a delta event may join several (from_seq..seq); 0 = just seq
                        deltas += event.delta.seq - (getattr(event.delta, "from_seq", 0) or event.delta.seq) + 1
                if deltas == 64:
                    complete += 1
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refused.append(exc.details())

        latencies = []
        refused: list[str] = []
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(stream()) for _ in range(streams)]
        await asyncio.sleep(0.1)
        until = time.perf_counter() + (1.0 if streams == 0 else 0)
        while (tasks and not all(t.done() for t in tasks)) or time.perf_counter() < until:
            s = time.perf_counter()
            await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=30)
            latencies.append(time.perf_counter() - s)
            await asyncio.sleep(0.02)
        await asyncio.gather(*tasks)
        if refused:
            clients.check_not_limited({f"RESOURCE_EXHAUSTED: {refused[0]}": len(refused)}, "StreamChatWithAI")
        return {"latencies": latencies, "complete": complete, "wall": time.perf_counter() - t0}
