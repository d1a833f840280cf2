"""Helpers of the chat reliability tests (fixtures come from ``shared_apps/chat/tests/conftest.py``)."""

from __future__ import annotations

import json

from channels.testing import WebsocketCommunicator

from chat_site.asgi import application


def connect(who) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {who.access}".encode())]
    )


async def frames_until(ws: WebsocketCommunicator, kinds=("done", "error"), timeout: float = 10) -> list[dict]:
    frames = []
    while True:
        frame = json.loads(await ws.receive_from(timeout=timeout))
        frames.append(frame)
        if frame["type"] in kinds:
            return frames
