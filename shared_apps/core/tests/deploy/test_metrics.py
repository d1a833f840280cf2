"""Metrics: the HTTP app counts requests at /metrics; the gRPC metrics interceptor counts
calls per method and status code and times them, through a real server."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from protos import auth_pb2, auth_pb2_grpc


def handled(method: str, service: str, code: str) -> float:
    labels = {"grpc_service": service, "grpc_method": method, "grpc_type": "unary", "grpc_code": code}
    return REGISTRY.get_sample_value("grpc_server_handled_total", labels) or 0.0


def test_metrics_endpoint_counts_http_requests(client):
    # given
    client.get("/healthz")
    client.get("/healthz")

    # when
    response = client.get("/metrics")

    # then
    assert response.status_code == 200
    text = response.content.decode()
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith("django_http_requests_total_by_view_transport_method_total{") and 'view="healthz"' in ln
    )
    assert float(line.rsplit(" ", 1)[1]) >= 2


@pytest.mark.django_db(transaction=True)
def test_grpc_calls_are_counted_per_method_and_code_and_timed(grpc_channel):
    # given
    check_before = handled("Check", "grpc.health.v1.Health", "OK")
    denied_before = handled("ListUsers", "auth.AuthService", "UNAUTHENTICATED")
    latency = {"grpc_service": "grpc.health.v1.Health", "grpc_method": "Check", "grpc_type": "unary"}
    timed_before = REGISTRY.get_sample_value("grpc_server_handling_seconds_count", latency) or 0.0

    # when: two health checks, and a call without a token
    health = health_pb2_grpc.HealthStub(grpc_channel)
    health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    with pytest.raises(grpc.RpcError) as error:
        auth_pb2_grpc.AuthServiceStub(grpc_channel).ListUsers(auth_pb2.ListUsersRequest(), timeout=5)

    # then
    assert error.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert handled("Check", "grpc.health.v1.Health", "OK") == check_before + 2
    assert handled("ListUsers", "auth.AuthService", "UNAUTHENTICATED") == denied_before + 1
    assert REGISTRY.get_sample_value("grpc_server_handling_seconds_count", latency) == timed_before + 2
    in_progress = REGISTRY.get_sample_value("grpc_server_in_progress", latency)
    assert in_progress == 0
