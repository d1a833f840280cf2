"""The seed platform's own clients work unchanged against the real stack (``testkit.stack``:
auth REST and gRPC, chat ASGI and gRPC, each a process on loopback).

The gRPC client is built from the seed's protos (``testkit/seed/protos``, none of our
additions) with node's ``@grpc/grpc-js``, not grpcio; the same script checks the seed's REST
shapes over HTTP. The websocket (not in the seed) is checked here for the same error codes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import urllib.request
import uuid

import pytest
import websockets

from testkit.seed_client import seed_client_install, seed_client_run
from testkit.stack import PASSWORD, new_email, require_tool


@pytest.fixture(scope="module")
def seed_client_modules():
    npm = require_tool("npm", "the seed-compatibility test installs @grpc/grpc-js with it")
    try:
        return seed_client_install(npm)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        reason = f"npm ci of testkit/seed/package-lock.json failed: {exc}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)


def test_the_seed_client_drives_both_services_over_grpc_and_rest(stack, seed_client_modules):
    # given: node and the seed's client
    node = require_tool("node", "the seed's gRPC client runs under node (@grpc/grpc-js)")
    # when: it signs up and in, chats, streams, refreshes, revokes and signs out (see client.cjs)
    report = seed_client_run(
        node,
        seed_client_modules,
        auth_grpc=stack.auth_grpc,
        chat_grpc=stack.chat_grpc,
        auth_url=stack.auth_url,
        chat_url=stack.chat_url,
    )
    # then: every step held (the script asserts each); the headline facts
    assert report["ok"] is True
    assert report["stream_frames"] == 4  # three stored messages, then is_end, then the end
    assert report["rest_stream_lines"] == 2
    assert report["grpc_codes"]["malformed"] == "INVALID_ARGUMENT"
    assert report["rest_codes"]["refresh_without_token"] == 401


def _access_token(stack) -> str:
    body = json.dumps({"name": "Ws", "email": new_email(), "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{stack.auth_url}/v1/auth/signup", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["tokens"]["access_token"]


def test_the_websocket_answers_a_malformed_id_as_invalid_and_an_unknown_one_as_not_found(stack):
    # given: a socket of a signed-up user, over the network
    token = _access_token(stack)
    url = stack.chat_url.replace("http://", "ws://") + "/ws/chat/"

    async def answers() -> list[str]:
        codes = []
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            for conversation_id in ("not-a-uuid", str(uuid.uuid4())):
                # when
                await ws.send(json.dumps({"type": "message", "content": "x", "conversation_id": conversation_id}))
                frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                assert frame["type"] == "error", frame
                codes.append(frame["code"])
        return codes

    # then: the codes of the seed's INVALID_ARGUMENT and NOT_FOUND
    assert asyncio.run(answers()) == ["invalid_argument", "not_found"]
