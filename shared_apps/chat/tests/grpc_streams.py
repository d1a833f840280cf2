"""Helpers of the gRPC stream tests: reading a server stream on a thread."""

from __future__ import annotations

import threading
import time

import grpc

from protos import chat_pb2

# StreamMessages follows the conversation live only when asked to (`follow`, where the proto has it).
FOLLOW = {"follow": True} if "follow" in chat_pb2.StreamMessageRequest.DESCRIPTOR.fields_by_name else {}


class Reader:
    """Reads a server stream on a thread; records the first item, the end and when it ended."""

    def __init__(self, call) -> None:
        self.call = call
        self.first = threading.Event()
        self.ended = threading.Event()
        self.ended_at: float | None = None
        self.code: grpc.StatusCode | None = None
        self.items: list = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for item in self.call:
                self.items.append(item)
                self.first.set()
            self.code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            self.code = exc.code()
        finally:
            self.ended_at = time.monotonic()
            self.first.set()
            self.ended.set()
