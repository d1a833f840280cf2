"""Server reflection under both of its names: ``grpc.reflection.v1alpha.ServerReflection``
(what grpcio-reflection serves) and ``grpc.reflection.v1.ServerReflection`` (what current
clients such as grpcurl and Postman ask for first).

grpcio-reflection ships only v1alpha. The v1 protocol is the same messages with the same field
numbers under another package, so one servicer answers both: its v1alpha messages are the v1
messages on the wire. The v1 file is registered in the descriptor pool (the v1alpha file renamed)
so that reflection can describe the v1 service too.
"""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1ALPHA = reflection.SERVICE_NAME  # grpc.reflection.v1alpha.ServerReflection
V1 = "grpc.reflection.v1.ServerReflection"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def _register_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    try:
        pool.FindFileByName(_V1_FILE)
        return  # already there (registered before, or by a library that ships v1)
    except KeyError:
        pass
    source = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(source)
    old, new = f".{source.package}.", ".grpc.reflection.v1."
    source.name, source.package = _V1_FILE, "grpc.reflection.v1"
    for message in source.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old) :]
    for service in source.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old) :]
            method.output_type = new + method.output_type[len(old) :]
    pool.AddSerializedFile(source.SerializeToString())


def enable_server_reflection(service_names: list[str] | tuple[str, ...], server: grpc.Server) -> None:
    """Serve reflection of ``service_names`` (and of both reflection services) as v1alpha and v1."""
    _register_v1_descriptor(descriptor_pool.Default())
    servicer = reflection.ReflectionServicer((*service_names, V1ALPHA, V1))
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(name, {"ServerReflectionInfo": handler}) for name in (V1ALPHA, V1)]
    )
