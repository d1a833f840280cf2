# ruff: noqa: ARG005 - bench harness: fixed argv of our own modules; closures run inside their loop iteration
"""The gRPC baseline: a bare grpcio server for ``chat.ChatService/ListConversations`` that
answers a fixed, pre-serialized response (the same bytes the real service returned), with the
same thread-pool size as grpcserve. ``python -m bench.bare_grpc ADDRESS RESPONSE_FILE``."""

from __future__ import annotations

import signal
import sys
import threading
from concurrent import futures

import grpc

from protos import chat_pb2, chat_pb2_grpc


class Bare(chat_pb2_grpc.ChatServiceServicer):
    def __init__(self, response: chat_pb2.ListConversationsResponse) -> None:
        self.response = response

    def ListConversations(self, request, context):  # noqa: N802
        return self.response


def main() -> None:
    address, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        response = chat_pb2.ListConversationsResponse.FromString(f.read())
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    chat_pb2_grpc.add_ChatServiceServicer_to_server(Bare(response), server)
    server.add_insecure_port(address)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    stop.wait()
    server.stop(0)


if __name__ == "__main__":
    main()
