"""(e) Per-request authentication in the chat service (signature, claims and the in-memory
revocation check, steady state) versus one ``ValidateToken`` gRPC call to the auth service."""

from __future__ import annotations

import time

import grpc

from bench import harness
from bench.db_work import QueryCounter
from bench.harness import median
from bench.report import Report
from bench.targets import at_least, equal

LOCAL_VS_REMOTE = at_least(
    20, "x", "local verification (signature, claims, revocation set) got slower, or the gRPC call got faster"
)
NO_STATEMENTS = equal(0, "0", "authentication touched the database; it must use only the in-memory revocation feed")


def run(report: Report, stack: harness.Stack, auth_target: str) -> None:
    harness.django_in_process(stack, auth_target=auth_target)
    from protos import auth_pb2, auth_pb2_grpc
    from shared_apps.authn.verify import access_token_verify

    user = harness.sign_up(auth_target)[0]
    access_token_verify(user.access)  # first call waits for the feed's first sync
    counter = QueryCounter()
    counter.install()
    counter.take()
    local, remote = [], []
    with grpc.insecure_channel(auth_target) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=user.access))
        for _ in range(5):
            n = 5000
            t0 = time.perf_counter()
            for _ in range(n):
                access_token_verify(user.access)
            local.append((time.perf_counter() - t0) / n)
            m = 300
            t0 = time.perf_counter()
            for _ in range(m):
                r = stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=user.access))
            remote.append((time.perf_counter() - t0) / m)
            assert r.valid
    queries = len(counter.take())
    ratio = median([r / l_ for r, l_ in zip(remote, local, strict=True)])
    b = "e"
    report.add(b, "chat-side verification per request (incl. revocation check)", median(local) * 1e6, "us")
    report.add(b, "ValidateToken gRPC call to the auth service", median(remote) * 1e6, "us")
    report.add(b, "ValidateToken / local verification", ratio, "x", target=LOCAL_VS_REMOTE)
    report.add(b, "database statements for authentication (chat side)", queries, "", target=NO_STATEMENTS)
