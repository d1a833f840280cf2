"""Per-user caps on what a user holds open in this process (gRPC streams, websockets).

A process has a fixed number of stream slots (``GRPC_MAX_STREAMS``) and sockets it can hold;
without a cap per user, one account can take them all and leave everyone else refused. The
counts are per process: with N processes a user may hold N times the cap in all, which still
leaves every process's slots for other users.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Hashable


class PerUserSlots:
    """A thread-safe count of the slots each user holds, refused past ``limit``."""

    def __init__(self) -> None:
        self._held: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def acquire(self, user_id: uuid.UUID | str, limit: int) -> bool:
        """Take one slot for the user; False (nothing taken) when they hold ``limit`` already.
        A limit of 0 or less means no cap."""
        with self._lock:
            held = self._held.get(user_id, 0)
            if 0 < limit <= held:
                return False
            self._held[user_id] = held + 1
            return True

    def release(self, user_id: uuid.UUID | str) -> None:
        with self._lock:
            held = self._held.get(user_id, 0) - 1
            if held > 0:
                self._held[user_id] = held
            else:
                self._held.pop(user_id, None)

    def held(self, user_id: uuid.UUID | str) -> int:
        with self._lock:
            return self._held.get(user_id, 0)
