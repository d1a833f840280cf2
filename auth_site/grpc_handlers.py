"""Registers the auth service's gRPC servicers on a server (django-grpc-framework's hook)."""

from __future__ import annotations

import grpc

from protos import auth_pb2_grpc


def grpc_handlers(server: grpc.Server) -> None:
    from shared_apps.accounts.grpc_api.servicers import AuthService

    auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthService.as_servicer(), server)
