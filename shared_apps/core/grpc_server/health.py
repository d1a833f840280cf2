"""Health services of a gRPC server: the standard ``grpc.health.v1.Health`` and the seed's
``auth.service.health.v1.Health``, both driven by one serving state."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from protos import health_pb2 as seed_health_pb2
from protos import health_pb2_grpc as seed_health_pb2_grpc

SeedStatus = seed_health_pb2.HealthCheckResponse


class ServingState:
    def __init__(self, service_names: list[str]) -> None:
        self.standard = health.HealthServicer(experimental_non_blocking=True)
        self.service_names = ["", *service_names]
        self._serving = False
        self._changed = threading.Condition()

    def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in self.service_names:
            self.standard.set(name, status)
        with self._changed:
            self._serving = serving
            self._changed.notify_all()

    def seed_status(self, service: str) -> int:
        if service and service not in self.service_names:
            return SeedStatus.SERVICE_UNKNOWN
        return SeedStatus.SERVING if self._serving else SeedStatus.NOT_SERVING

    def wait_change(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)


class SeedHealthServicer(seed_health_pb2_grpc.HealthServicer):
    def __init__(self, state: ServingState) -> None:
        self.state = state

    def Check(self, request, context):  # noqa: N802 - gRPC method name
        return SeedStatus(status=self.state.seed_status(request.service))

    def Watch(self, request, context) -> Iterator[SeedStatus]:  # noqa: N802
        last = None
        while context.is_active():
            status = self.state.seed_status(request.service)
            if status != last:
                last = status
                yield SeedStatus(status=status)
            self.state.wait_change(timeout=1.0)


def add_health_services(server: grpc.Server, state: ServingState) -> None:
    health_pb2_grpc.add_HealthServicer_to_server(state.standard, server)
    seed_health_pb2_grpc.add_HealthServicer_to_server(SeedHealthServicer(state), server)
