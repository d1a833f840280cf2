"""Registers the chat service's gRPC servicers on a server (django-grpc-framework's hook)."""

from __future__ import annotations

import grpc

from protos import chat_pb2_grpc


def grpc_handlers(server: grpc.Server) -> None:
    from shared_apps.chat.grpc_api.servicers import ChatService

    chat_pb2_grpc.add_ChatServiceServicer_to_server(ChatService.as_servicer(), server)
