"""N users x M messages over websockets and REST at once; then what was sent is compared with
what is stored: nothing lost, nothing duplicated, every reply complete. A short run by default,
a bigger one under ``-m slow``."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from rest_framework.test import APIClient

from shared_apps.chat.models import Message
from shared_apps.chat.tests.conftest import sign_up
from shared_apps.chat.tests.reliability.conftest import connect, frames_until

pytestmark = pytest.mark.django_db(transaction=True)


async def _load(auth_service, users: int, messages: int) -> tuple[dict, list]:
    people = [await asyncio.to_thread(sign_up, auth_service) for _ in range(users)]
    sent: dict[str, str] = {}  # client_message_id -> content
    finals: list[dict] = []

    async def websocket_user(person):
        ws = connect(person)
        assert (await ws.connect(timeout=15))[0]  # a busy loop may take over a second to accept
        for i in range(messages):
            cid = f"ws-{person.user_id}-{i}"
            sent[cid] = f"ws message {i} of {person.email}"
            await ws.send_json_to({"type": "message", "content": sent[cid], "client_message_id": cid})
            frames = await frames_until(ws, timeout=60)
            finals.append(frames[-1])
            assert "".join(f["content"] for f in frames if f["type"] == "delta") == frames[-1]["message"]["content"]
        await ws.disconnect(timeout=15)

    def rest_user(person):
        api = APIClient()
        conversation = api.post("/v1/chat/conversations", {}, format="json", **person.headers).json()["id"]
        for i in range(messages):
            cid = f"rest-{person.user_id}-{i}"
            sent[cid] = f"rest message {i} of {person.email}"
            response = api.post(
                f"/v1/chat/conversations/{conversation}/messages",
                {"content": sent[cid], "client_message_id": cid},
                format="json",
                **person.headers,
            )
            assert response.status_code == 201, response.content
            finals.append({"type": "done", "message": response.json()["assistant_message"]})

    # REST users are threads of their own, as a server's request threads are (not the loop's
    # default executor, which runs the chat service's ORM work and would be starved).
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=users, thread_name_prefix="rest-user") as rest_threads:
        await asyncio.gather(
            *(websocket_user(p) for p in people),
            *(loop.run_in_executor(rest_threads, rest_user, p) for p in people),
        )
    return sent, finals


def _check(sent: dict, finals: list) -> None:
    users = Message.objects.filter(role=Message.Role.USER, client_message_id__in=list(sent))
    assert users.count() == len(sent)  # none lost, none duplicated
    assert {m.client_message_id: m.content for m in users} == sent
    replies = Message.objects.filter(role=Message.Role.ASSISTANT, parent__in=users)
    assert replies.count() == len(sent)
    assert set(replies.values_list("status", flat=True)) == {Message.Status.COMPLETE}
    assert all(m.content.startswith("Echo: ") for m in replies)  # every reply complete, as streamed
    assert [f["type"] for f in finals] == ["done"] * len(sent)


def _run(auth_service, upstream, settings, users, messages):
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 10_000
    upstream.reset()
    sent, finals = asyncio.run(_load(auth_service, users, messages))
    _check(sent, finals)


def test_users_by_messages_over_websocket_and_rest(auth_service, upstream, settings):
    _run(auth_service, upstream, settings, users=4, messages=3)


@pytest.mark.slow
def test_users_by_messages_over_websocket_and_rest_long(auth_service, upstream, settings):
    _run(auth_service, upstream, settings, users=20, messages=10)


_ = uuid
