"""Container health check of the image (Docker HEALTHCHECK, compose).

    python docker/healthcheck.py                     # HTTP GET /healthz on 127.0.0.1:$PORT (8081)
    python docker/healthcheck.py http 8083           # the chat ASGI app
    python docker/healthcheck.py grpc 127.0.0.1:8080 # grpc.health.v1 Check, overall server

Exit 0 when healthy, 1 otherwise; stdlib and grpcio only, no Django start-up. Kubernetes does
not use this: its probes call /healthz, /readyz and grpc.health.v1 directly.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def http_ok(port: str) -> bool:
    # The Host header must be one of DJANGO_ALLOWED_HOSTS; localhost is in every local set-up.
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:  # noqa: S310 - fixed loopback URL
            return response.status == 200
    except OSError:
        return False


def grpc_ok(target: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=3)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def main(argv: list[str]) -> int:
    kind = argv[1] if len(argv) > 1 else "http"
    if kind == "grpc":
        healthy = grpc_ok(argv[2] if len(argv) > 2 else "127.0.0.1:8080")
    else:
        healthy = http_ok(argv[2] if len(argv) > 2 else os.environ.get("PORT", "8081"))
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
