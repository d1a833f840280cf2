"""Standard and seed health services and server reflection (v1alpha and v1) on the auth gRPC server."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_tools import protoc

from protos import health_pb2 as seed_health_pb2
from protos import health_pb2_grpc as seed_health_pb2_grpc
from testkit.processes import ROOT

REFLECTION_V1_PROTO = ROOT / "testkit" / "seed" / "reflection_v1.proto"


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


SERVICES = {
    "auth.AuthService",
    "grpc.health.v1.Health",
    "auth.service.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
}


def test_reflection_lists_the_services(grpc_channel):
    # given
    stub = reflection_pb2_grpc.ServerReflectionStub(grpc_channel)
    # when
    responses = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    # then
    names = {s.name for s in responses[0].list_services_response.service}
    assert SERVICES <= names


@pytest.fixture(scope="module")
def reflection_v1(tmp_path_factory):
    """The request and response classes of reflection v1, compiled from the gRPC project's
    reflection/v1 proto into a pool of their own: an independent v1 client, not our server's."""
    out = tmp_path_factory.mktemp("reflection") / "v1.pb"
    include = Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{REFLECTION_V1_PROTO.parent}", f"-I{include}", f"--descriptor_set_out={out}"]
    assert protoc.main([*args, REFLECTION_V1_PROTO.name]) == 0
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"grpc.reflection.v1.{name}"))
        for name in ("ServerReflectionRequest", "ServerReflectionResponse")
    )


def test_reflection_v1_lists_and_describes_the_services(grpc_channel, reflection_v1):
    # given: a v1 client (grpcurl and current tools ask for v1 first)
    request_class, response_class = reflection_v1
    call = grpc_channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString,
    )
    # when
    listed, described, itself = list(
        call(
            iter(
                [
                    request_class(list_services=""),
                    request_class(file_containing_symbol="auth.AuthService"),
                    request_class(file_containing_symbol="grpc.reflection.v1.ServerReflection"),
                ]
            ),
            timeout=10,
        )
    )
    # then
    assert SERVICES <= {s.name for s in listed.list_services_response.service}
    auth_file = descriptor_pb2.FileDescriptorProto.FromString(
        described.file_descriptor_response.file_descriptor_proto[0]
    )
    assert auth_file.package == "auth" and "AuthService" in {s.name for s in auth_file.service}
    v1_file = descriptor_pb2.FileDescriptorProto.FromString(itself.file_descriptor_response.file_descriptor_proto[0])
    assert (v1_file.package, [s.name for s in v1_file.service]) == ("grpc.reflection.v1", ["ServerReflection"])
    assert v1_file.service[0].method[0].input_type == ".grpc.reflection.v1.ServerReflectionRequest"
