"""PostgreSQL backends terminated during traffic (``pg_terminate_backend`` on every other
connection of the chat database, three times, while websocket replies stream and REST calls
run). Clients see success or a clear error, never a hang; afterwards the same process serves
again; every user message that was acknowledged, and every reply's received content, is
stored (a reply that was streaming ends ``complete`` or ``failed`` with exactly what arrived).
Skipped unless DATABASE_URL is PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time

import psycopg
import pytest
from channels.db import database_sync_to_async
from django.db import close_old_connections, connection, connections
from rest_framework.test import APIClient

from shared_apps.chat.models import Message
from shared_apps.chat.tests.reliability.conftest import connect, frames_until
from testkit.fake_openai import reply

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not connection.vendor == "postgresql", reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)"
    ),
]

REPLIES = 3
DELTAS = 30
# Only this test process's connections are terminated (others may share the test database).
APPLICATION_NAME = f"chat-pg-faults-{os.getpid()}"


@pytest.fixture
def tagged_connections():
    """Every new connection of this process carries APPLICATION_NAME (CONN_MAX_AGE is 0, so
    requests and reply saves open new ones)."""
    options = connections.settings["default"].setdefault("OPTIONS", {})
    options["application_name"] = APPLICATION_NAME
    connection.close()
    yield
    options.pop("application_name", None)
    connection.close()


def _terminate_others() -> int:
    db = connection.settings_dict
    with psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    return len(rows)


def _rest_traffic(alice, conversation: str, stop: threading.Event, results: list) -> None:
    api = APIClient()
    i = 0
    while not stop.is_set():
        started = time.monotonic()
        close_old_connections()  # what the server does at request_started (the test client skips it)
        try:
            response = api.post(
                "/v1/chat/message",
                {"message": f"rest {i}", "conversation_id": conversation},
                format="json",
                **alice.headers,
            )
            results.append((f"rest {i}", response.status_code, time.monotonic() - started, response.content[:200]))
        except Exception as exc:  # noqa: BLE001 - the test client re-raises what the view raised
            results.append((f"rest {i}", f"raised {type(exc).__name__}", time.monotonic() - started, b""))
        i += 1
        time.sleep(0.03)
    connection.close()


async def test_backends_terminated_during_streaming_and_rest(alice, upstream, settings, tagged_connections):
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 100_000
    api = APIClient()
    conversation = (
        await asyncio.to_thread(api.post, "/v1/chat/conversations", {}, format="json", **alice.headers)
    ).json()["id"]
    upstream.enqueue(reply([f"w{i} " for i in range(DELTAS)], delta_interval=0.05), times=REPLIES)
    sockets = [connect(alice) for _ in range(REPLIES)]
    for n, ws in enumerate(sockets):
        assert (await ws.connect())[0]
        await ws.send_json_to({"type": "message", "content": f"socket {n}", "client_message_id": f"pg-{n}"})
    # each reply is streaming: ack, start and a few deltas arrived
    firsts = [[json.loads(await ws.receive_from(timeout=10)) for _ in range(4)] for ws in sockets]
    assert all(f[0]["type"] == "ack" and f[1]["type"] == "start" and f[3]["type"] == "delta" for f in firsts), firsts
    stop, rest_results = threading.Event(), []
    rest = threading.Thread(target=_rest_traffic, args=(alice, conversation, stop, rest_results), daemon=True)
    rest.start()
    # when: every backend of the chat database is terminated, three times, during the traffic
    terminated = []
    for _ in range(3):
        await asyncio.sleep(0.3)
        terminated.append(await asyncio.to_thread(_terminate_others))
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.to_thread(rest.join, 20)
    # then: every socket ends with done or error (the final save retries for up to ~30 s), no hang
    started = time.monotonic()
    finals = [first + await frames_until(ws, timeout=40) for ws, first in zip(sockets, firsts, strict=True)]
    waited = time.monotonic() - started
    print(
        f"\npostgres: terminated {terminated} backends; REST {[r[1] for r in rest_results]}; "
        f"sockets done in {waited:.1f} s"
    )
    assert not rest.is_alive()
    assert sum(terminated) > 0
    # REST: a success or a clear 503 (the database connection was cut mid-request; the
    # next request opens a new connection), quickly; never a 500.
    for content, status, seconds, body in rest_results:
        assert status in (200, 503), (content, status, body)
        assert seconds < 10, (content, seconds)
    assert rest_results[-1][1] == 200
    for frames in finals:
        final = frames[-1]
        assert final["type"] in ("done", "error"), final
        text = "".join(f["content"] for f in frames if f["type"] == "delta")
        row = await database_sync_to_async(Message.objects.get)(id=frames[1]["message_id"])
        if final["type"] == "done":
            assert row.status == Message.Status.COMPLETE and row.content == text == final["message"]["content"]
            assert len(text.split()) == DELTAS
        else:
            assert row.status == Message.Status.FAILED and row.content == text, (row.status, row.content, text)
    # every acknowledged user message is stored, exactly once
    acked = {f"socket {n}" for n in range(REPLIES)} | {c for c, status, _, _ in rest_results if status == 200}

    def stored_user_messages():
        return list(
            Message.objects.filter(user_id=alice.user_id, role=Message.Role.USER).values_list("content", flat=True)
        )

    stored = await database_sync_to_async(stored_user_messages)()
    assert acked <= set(stored) and len(stored) == len(set(stored)), acked - set(stored)

    # and the same process serves again: REST and a new websocket reply
    def post_after():
        close_old_connections()  # what the server does at request_started (the test client skips it)
        return api.post(
            "/v1/chat/message", {"message": "after", "conversation_id": conversation}, format="json", **alice.headers
        )

    response = await asyncio.to_thread(post_after)
    assert response.status_code == 200
    upstream.enqueue(reply(["fine"]))
    await sockets[0].send_json_to({"type": "message", "content": "after the blip"})
    assert (await frames_until(sockets[0]))[-1]["type"] == "done"
    for ws in sockets:
        await ws.disconnect()
    assert not await database_sync_to_async(Message.objects.filter(status=Message.Status.STREAMING).exists)()
