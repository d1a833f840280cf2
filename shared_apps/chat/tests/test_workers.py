"""The production chat server with two worker processes (gunicorn, uvicorn workers) and
Redis: a reply produced in one worker is resumed through the other. Needs a real Redis."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess

import pytest
import websockets.sync.client as ws_client
from django.conf import settings

from shared_apps.chat.tests.conftest import test_database_url
from testkit.fake_openai import reply
from testkit.processes import ROOT, chat_gunicorn_command, free_port, http_wait

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a real Redis: set REDIS_URL (CI does)"),
]


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _worker_serving(workers: list[int], client_port: int) -> int | None:
    """Which worker holds the server side of the loopback connection from ``client_port``."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in list(f)[1:]:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == client_port:  # rem_address is the client's
                inodes.add(fields[9])
    for pid in workers:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").removeprefix("socket:[").rstrip("]") in inodes:
                    return pid
            except OSError:
                continue
    return None


@pytest.fixture
def two_workers(upstream, auth_service):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chat_site.settings.test",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "AUTH_GRPC_TARGET": auth_service.target,
        "CHAT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_MAX_RETRIES": "0",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "PYTHONPATH": str(ROOT),
    }
    server = subprocess.Popen(
        chat_gunicorn_command(),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        http_wait(f"http://127.0.0.1:{port}/healthz", server)
        yield server, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_reply_produced_in_one_worker_is_resumed_in_the_other(alice, upstream, two_workers):
    server, port = two_workers
    url = f"ws://127.0.0.1:{port}/ws/chat/"
    headers = {"Authorization": f"Bearer {alice.access}"}
    workers = _children(server.pid)
    assert len(workers) == 2
    # given: a slow reply started through one worker, its socket gone after two deltas
    words = [f"w{i} " for i in range(20)]
    upstream.enqueue(reply(words, delta_interval=0.1))
    with ws_client.connect(url, additional_headers=headers) as first:
        producer = _worker_serving(workers, first.socket.getsockname()[1])
        first.send(json.dumps({"type": "message", "content": "count"}))
        ack, start, d1, d2 = [json.loads(first.recv(timeout=10)) for _ in range(4)]
    assert producer in workers and [d1["seq"], d2["seq"]] == [1, 2]
    # when: the client reconnects until the other worker accepts it, and resumes there
    with contextlib.ExitStack() as opened:
        for _ in range(200):  # which worker accepts is the kernel's choice: ask often
            attempt = contextlib.ExitStack()
            there = attempt.enter_context(ws_client.connect(url, additional_headers=headers))
            if _worker_serving(workers, there.socket.getsockname()[1]) not in (producer, None):
                opened.enter_context(attempt)
                break
            attempt.close()  # not kept open: the user's socket cap would refuse the next ones
        else:
            pytest.fail("the kernel never handed a connection to the second worker")
        there.send(json.dumps({"type": "resume", "message_id": start["message_id"], "after_seq": 2}))
        frames = []
        while not frames or frames[-1]["type"] not in ("done", "error"):
            frames.append(json.loads(there.recv(timeout=10)))
    # then: exactly the missing deltas, then the stored reply
    deltas = [f for f in frames if f["type"] == "delta"]
    seqs = [s for f in deltas for s in range(f.get("from_seq", f["seq"]), f["seq"] + 1)]
    assert seqs == list(range(3, 21))
    text = d1["content"] + d2["content"] + "".join(f["content"] for f in deltas)
    assert text == "".join(words)
    assert frames[-1]["type"] == "done" and frames[-1]["message"]["content"] == text
