"""The auth service goes away and comes back, seen from the chat service.

A PRIVATE auth gRPC server (its own process, port and SQLite database) feeds this process's
revocation set; ``AUTHN_REVOCATION_MAX_STALENESS`` is 2 s here. When it stops, requests keep
working until the knowledge is 2 s old, then get 503 with a message naming the auth service;
when it is started again on the same port the same chat process serves the same token again,
without a restart. A user deactivated at the auth service has their open socket closed 4401
within about a second."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import grpc
import pytest
from channels.db import database_sync_to_async
from django.conf import settings as live_settings
from rest_framework.test import APIClient

from protos import auth_pb2_grpc
from shared_apps.authn.revocation import revocation_feed_reset
from shared_apps.chat.models import Message
from shared_apps.chat.tests.conftest import ROOT, AuthService, auth_env, sign_up
from shared_apps.chat.tests.reliability.conftest import connect, frames_until
from testkit.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)

STALENESS = 2.0


class PrivateAuth:
    def __init__(self, db_path):
        self.env = auth_env(db_path)
        subprocess.run(
            [sys.executable, "manage_auth.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=self.env, check=True
        )
        self.target = f"127.0.0.1:{free_port()}"
        self.process: subprocess.Popen | None = None
        self.channel = grpc.insecure_channel(self.target)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage_auth.py", "grpcserve", self.target, "--grace", "0"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        grpc.channel_ready_future(self.channel).result(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)

    def service(self) -> AuthService:
        return AuthService(self.target, auth_pb2_grpc.AuthServiceStub(self.channel), self.process)

    def deactivate(self, email: str) -> None:
        code = (
            "from shared_apps.accounts.models import User;"
            "from shared_apps.accounts.services import user_deactivate;"
            f"user_deactivate(user=User.objects.get(email={email!r}))"
        )
        subprocess.run(
            [sys.executable, "manage_auth.py", "shell", "-c", code], cwd=ROOT, env=self.env, check=True, timeout=60
        )


@pytest.fixture
def private_auth(tmp_path, settings):
    settings.AUTHN_REVOCATION_MAX_STALENESS = STALENESS
    auth = PrivateAuth(tmp_path / "auth.sqlite3")
    auth.start()
    previous = live_settings.AUTH_GRPC_TARGET
    live_settings.AUTH_GRPC_TARGET = auth.target
    revocation_feed_reset()
    try:
        yield auth
    finally:
        live_settings.AUTH_GRPC_TARGET = previous
        revocation_feed_reset()
        auth.stop()
        auth.channel.close()


def test_outage_serves_within_staleness_then_503_then_recovers_on_restart(private_auth, upstream):
    user = sign_up(private_auth.service())
    api = APIClient()
    assert api.get("/v1/chat/conversations", **user.headers).status_code == 200
    conversation = api.post("/v1/chat/conversations", {}, format="json", **user.headers).json()["id"]
    # when: the auth service dies
    private_auth.stop()
    stopped = time.monotonic()
    # then: within the staleness window the chat service still answers (tokens verify locally)
    sent = 0
    response = api.post(
        "/v1/chat/message", {"message": "during", "conversation_id": conversation}, format="json", **user.headers
    )
    assert response.status_code == 200 and time.monotonic() - stopped < STALENESS, response.content
    sent += 1
    # and after it, 503 with a clear message (never a hang, never a 500)
    refused_after = None
    while time.monotonic() - stopped < STALENESS + 5:
        t0 = time.monotonic()
        response = api.get("/v1/chat/conversations", **user.headers)
        assert time.monotonic() - t0 < 5  # no hang
        assert response.status_code in (200, 503), response.content
        if response.status_code == 503:
            refused_after = time.monotonic() - stopped
            break
        time.sleep(0.1)
    assert refused_after is not None and STALENESS - 0.5 <= refused_after <= STALENESS + 2, refused_after
    assert "auth service" in response.json()["error"]["message"]
    post = api.post(
        "/v1/chat/message", {"message": "refused", "conversation_id": conversation}, format="json", **user.headers
    )
    assert post.status_code == 503
    # when: the auth service is started again on the same port (same database)
    private_auth.start()
    restarted = time.monotonic()
    recovered_after = None
    while time.monotonic() - restarted < 30:
        if api.get("/v1/chat/conversations", **user.headers).status_code == 200:
            recovered_after = time.monotonic() - restarted
            break
        time.sleep(0.1)
    # then: the same process serves the same token again, and nothing accepted was lost
    assert recovered_after is not None
    print(
        f"\nauth down: refused {refused_after:.2f} s after the stop; served again {recovered_after:.2f} s after restart"
    )
    response = api.post(
        "/v1/chat/message", {"message": "after", "conversation_id": conversation}, format="json", **user.headers
    )
    assert response.status_code == 200
    sent += 1
    stored = list(
        Message.objects.filter(conversation_id=conversation, role=Message.Role.USER).values_list("content", flat=True)
    )
    assert sorted(stored) == ["after", "during"] and len(stored) == sent


async def test_deactivated_users_open_socket_is_closed_4401(private_auth, upstream):
    user = await asyncio.to_thread(sign_up, private_auth.service())
    ws = connect(user)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "message", "content": "before"})
    frames = await frames_until(ws)
    assert frames[-1]["type"] == "done"
    # when: an administrator deactivates the user at the auth service
    await asyncio.to_thread(private_auth.deactivate, user.email)
    deactivated = time.monotonic()
    # then: the socket gets an unauthenticated error frame and is closed 4401 within about a second
    frame = json.loads(await ws.receive_from(timeout=3))
    closed = await ws.receive_output(timeout=3)
    elapsed = time.monotonic() - deactivated
    assert frame["code"] == "unauthenticated" and closed["code"] == 4401, (frame, closed)
    assert elapsed < 1.5, elapsed
    # and the same token is refused on REST, while what was sent stays stored
    assert (await asyncio.to_thread(APIClient().get, "/v1/chat/conversations", **user.headers)).status_code == 401
    stored = await database_sync_to_async(
        lambda: list(Message.objects.filter(conversation_id=frames[0]["conversation_id"]).values_list("role", "status"))
    )()
    assert sorted(stored) == [("assistant", "complete"), ("user", "complete")]
