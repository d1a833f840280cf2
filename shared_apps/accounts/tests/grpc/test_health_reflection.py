"""Standard and seed health services and server reflection on the auth gRPC server."""

from __future__ import annotations

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from protos import health_pb2 as seed_health_pb2
from protos import health_pb2_grpc as seed_health_pb2_grpc


def test_standard_health_check(grpc_channel):
    # given
    stub = health_pb2_grpc.HealthStub(grpc_channel)
    # when
    overall = stub.Check(health_pb2.HealthCheckRequest())
    auth = stub.Check(health_pb2.HealthCheckRequest(service="auth.AuthService"))
    # then
    assert overall.status == auth.status == health_pb2.HealthCheckResponse.SERVING


def test_seed_health_check(grpc_channel):
    # given
    stub = seed_health_pb2_grpc.HealthStub(grpc_channel)
    # when
    overall = stub.Check(seed_health_pb2.HealthCheckRequest())
    unknown = stub.Check(seed_health_pb2.HealthCheckRequest(service="nope.Nope"))
    # then
    assert overall.status == seed_health_pb2.HealthCheckResponse.SERVING
    assert unknown.status == seed_health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


def test_seed_health_watch_streams_the_status(grpc_channel):
    # given
    stub = seed_health_pb2_grpc.HealthStub(grpc_channel)
    # when
    stream = stub.Watch(seed_health_pb2.HealthCheckRequest(), timeout=5)
    first = next(stream)
    stream.cancel()
    # then
    assert first.status == seed_health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(grpc_channel):
    # given
    stub = reflection_pb2_grpc.ServerReflectionStub(grpc_channel)
    # when
    responses = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    # then
    names = {s.name for s in responses[0].list_services_response.service}
    assert {
        "auth.AuthService",
        "grpc.health.v1.Health",
        "auth.service.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names
