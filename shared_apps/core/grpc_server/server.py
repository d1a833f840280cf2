"""Building and running a site's gRPC server (used by ``grpcserve`` and the tests)."""

from __future__ import annotations

from concurrent import futures

import grpc
from django.conf import settings
from django.utils.module_loading import import_string
from django_grpc_framework.settings import grpc_settings
from grpc_health.v1 import health_pb2

from protos import health_pb2 as seed_health_pb2
from shared_apps.authn.grpc_auth import AccessTokenInterceptor
from shared_apps.core.grpc_server.health import ServingState, add_health_services
from shared_apps.core.grpc_server.interceptors import (
    CorrelationIdInterceptor,
    ErrorMappingInterceptor,
    LoggingInterceptor,
)
from shared_apps.core.grpc_server.reflection import enable_server_reflection
from shared_apps.core.grpc_server.streams import StreamGuardInterceptor

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def default_interceptors() -> list[grpc.ServerInterceptor]:
    extra = [import_string(path)() for path in getattr(settings, "GRPC_EXTRA_INTERCEPTORS", [])]
    return [
        CorrelationIdInterceptor(),
        *extra,
        LoggingInterceptor(),
        ErrorMappingInterceptor(),
        AccessTokenInterceptor(settings.GRPC_PUBLIC_METHODS),
        StreamGuardInterceptor(),  # streams: a cap per user, and the session re-checked while open
    ]


def build_server(max_workers: int | None = None) -> tuple[grpc.Server, ServingState]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers or settings.GRPC_MAX_WORKERS, thread_name_prefix="grpc"),
        interceptors=default_interceptors(),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
        # Streams (StreamMessages, StreamChatWithAI) hold a worker thread each; beyond this many
        # concurrent calls clients get RESOURCE_EXHAUSTED instead of queueing forever.
        maximum_concurrent_rpcs=getattr(settings, "GRPC_MAX_CONCURRENT_RPCS", None),
    )
    grpc_settings.ROOT_HANDLERS_HOOK(server)
    service_names = list(settings.GRPC_SERVICE_NAMES)
    state = ServingState(service_names)
    add_health_services(server, state)
    enable_server_reflection(  # v1alpha and v1
        (
            *service_names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            seed_health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        ),
        server,
    )
    return server, state
