"""SIGTERM on the production chat servers: a reply in flight is finished or stored as
``cancelled`` with what arrived, never lost, and the process exits 0."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import grpc
import pytest
import websockets.sync.client as ws_client

from protos import chat_pb2, chat_pb2_grpc
from testkit.fake_openai import reply
from testkit.processes import ROOT, chat_gunicorn_command, free_port, http_wait


def _env(tmp_path, upstream, auth_service, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="chat_site.settings.test",
        DATABASE_URL=f"sqlite:///{tmp_path / 'chat.sqlite3'}",
        AUTH_GRPC_TARGET=auth_service.target,
        CHAT_PROVIDER="openai",
        OPENAI_BASE_URL=upstream.base_url,
        OPENAI_API_KEY="sk-test",
        OPENAI_MAX_RETRIES="0",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    subprocess.run([sys.executable, "manage_chat.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    return env


def _assistant_rows(tmp_path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "chat.sqlite3") as db:
        return db.execute("select status, content from chat_message where role = 'assistant'").fetchall()


@pytest.mark.parametrize(("grace", "expected_status"), [("0.3", "cancelled"), ("20", "complete")])
def test_gunicorn_sigterm_drains_the_reply_in_flight(tmp_path, upstream, auth_service, alice, grace, expected_status):
    # given: the production ASGI server with a reply streaming slowly
    port = free_port()
    env = _env(
        tmp_path,
        upstream,
        auth_service,
        PORT=str(port),
        WEB_CONCURRENCY="1",
        UVICORN_GRACEFUL_SHUTDOWN="1",
        CHAT_SHUTDOWN_GRACE_SECONDS=grace,
    )
    server = subprocess.Popen(
        chat_gunicorn_command(),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        http_wait(f"http://127.0.0.1:{port}/healthz", server)
        words = [f"w{i} " for i in range(30)]
        upstream.enqueue(reply(words, delta_interval=0.1))
        with ws_client.connect(
            f"ws://127.0.0.1:{port}/ws/chat/", additional_headers={"Authorization": f"Bearer {alice.access}"}
        ) as ws:
            ws.send(json.dumps({"type": "message", "content": "tell me"}))
            frames = [json.loads(ws.recv(timeout=10)) for _ in range(4)]  # ack start d1 d2
            assert [f["type"] for f in frames] == ["ack", "start", "delta", "delta"]
            # when
            server.send_signal(signal.SIGTERM)
            exit_code = server.wait(timeout=40)
    finally:
        if server.poll() is None:
            server.kill()
    # then
    assert exit_code == 0, server.stderr.read().decode()[-2000:]
    [(status, content)] = _assistant_rows(tmp_path)
    assert status == expected_status
    assert content.startswith("w0 w1 ") and "".join(words).startswith(content)
    if expected_status == "complete":
        assert content == "".join(words)


def test_grpcserve_sigterm_finishes_the_stream_in_flight(tmp_path, upstream, auth_service, alice):
    target = f"127.0.0.1:{free_port()}"
    env = _env(tmp_path, upstream, auth_service, GRPC_GRACE_SECONDS="20", CHAT_SHUTDOWN_GRACE_SECONDS="20")
    server = subprocess.Popen(
        [sys.executable, "manage_chat.py", "grpcserve", target],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        channel = grpc.insecure_channel(target)
        grpc.channel_ready_future(channel).result(timeout=30)
        words = [f"g{i} " for i in range(15)]
        upstream.enqueue(reply(words, delta_interval=0.1))
        stream = chat_pb2_grpc.ChatServiceStub(channel).StreamChatWithAI(
            chat_pb2.ChatWithAIRequest(message="go"), metadata=alice.metadata
        )
        events = [next(stream) for _ in range(3)]  # ack start d1
        server.send_signal(signal.SIGTERM)
        events += list(stream)
        exit_code = server.wait(timeout=40)
    finally:
        if server.poll() is None:
            server.kill()
    assert exit_code == 0, server.stderr.read().decode()[-2000:]
    assert events[-1].done.message.content == "".join(words)
    assert _assistant_rows(tmp_path) == [("complete", "".join(words))]
