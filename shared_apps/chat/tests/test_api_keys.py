"""API keys on every chat transport: ``Authorization: Bearer <key>`` on REST, gRPC metadata and
the websocket (header or auth frame), verified by the real auth service (a subprocess) with one
call per key per minute; the key's owner is the user; a changed key is refused, and a deleted
key within a second, also on a socket that is open."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import grpc
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from chat_site.asgi import application
from protos import auth_pb2, chat_pb2, chat_pb2_grpc
from shared_apps.authn.api_keys import api_key_verifier, api_key_verifier_reset
from shared_apps.chat.models import Conversation
from testkit.fake_openai import reply

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Key:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.key}"}

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.key}"),)


@pytest.fixture(autouse=True)
def _fresh_cache():
    api_key_verifier_reset()
    yield
    api_key_verifier_reset()


@pytest.fixture
def alice_key(auth_service, alice) -> Key:
    created = auth_service.stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(name="robot"), metadata=alice.metadata)
    return Key(id=created.id, key=created.key)


@pytest.fixture
def chat(grpc_channel):
    return chat_pb2_grpc.ChatServiceStub(grpc_channel)


def _changed(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def _delete(auth_service, alice, key: Key) -> float:
    auth_service.stub.DeleteApiKey(auth_pb2.DeleteApiKeyRequest(id=key.id), metadata=alice.metadata)
    return time.monotonic()


def test_a_key_works_on_rest_and_grpc_as_its_owner(api, chat, alice, alice_key):
    # when: a conversation made with the key, one with the owner's access token
    by_key = api.post("/v1/chat/conversations", {"title": "by key"}, format="json", **alice_key.headers)
    by_token = chat.CreateConversation(chat_pb2.Conversation(title="by token"), metadata=alice.metadata)
    # then: each credential sees both, as the same user
    assert by_key.status_code == 201
    assert Conversation.objects.get(id=by_key.json()["id"]).user_id == alice.user_id
    listed = chat.ListConversations(chat_pb2.ListConversationsRequest(limit=10), metadata=alice_key.metadata)
    assert {c.id for c in listed.conversations} == {by_key.json()["id"], by_token.id}
    rest_listed = api.get("/v1/chat/conversations", **alice_key.headers).json()
    assert len(rest_listed["conversations"]) == 2


def test_rate_limits_count_against_the_keys_owner(api, alice, alice_key, upstream, settings):
    # given
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 2
    conversation_id = api.post("/v1/chat/conversations", {"title": "t"}, format="json", **alice.headers).json()["id"]
    url = f"/v1/chat/conversations/{conversation_id}/messages"
    # when: one message with the access token, then two with the key
    codes = [
        api.post(url, {"content": "hi"}, format="json", **alice.headers).status_code,
        api.post(url, {"content": "hi"}, format="json", **alice_key.headers).status_code,
        api.post(url, {"content": "hi"}, format="json", **alice_key.headers).status_code,
    ]
    # then: one allowance for both credentials
    assert codes == [201, 201, 429]


def test_the_auth_service_is_asked_once_per_key_per_minute(api, chat, alice_key):
    # when: many uses over two transports
    for _ in range(5):
        assert api.get("/v1/chat/conversations", **alice_key.headers).status_code == 200
        chat.ListConversations(chat_pb2.ListConversationsRequest(), metadata=alice_key.metadata)
    # then
    assert api_key_verifier().calls == 1


def test_a_key_with_one_character_changed_is_refused_everywhere(api, chat, alice_key):
    # given
    forged = Key(id=alice_key.id, key=_changed(alice_key.key))
    # when
    rest = api.get("/v1/chat/conversations", **forged.headers)
    with pytest.raises(grpc.RpcError) as caught:
        chat.ListConversations(chat_pb2.ListConversationsRequest(), metadata=forged.metadata)
    # then
    assert rest.status_code == 401 and rest.json()["error"]["code"] == "unauthenticated"
    assert alice_key.key not in rest.content.decode() and forged.key not in rest.content.decode()
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert api.get("/v1/chat/conversations", **alice_key.headers).status_code == 200


def test_a_deleted_key_is_refused_on_rest_and_grpc_within_a_second(api, chat, auth_service, alice, alice_key):
    # given: the key works on both, so its answer is cached
    assert api.get("/v1/chat/conversations", **alice_key.headers).status_code == 200
    chat.ListConversations(chat_pb2.ListConversationsRequest(), metadata=alice_key.metadata)
    # when
    deleted_at = _delete(auth_service, alice, alice_key)
    # then
    rest_refused = grpc_refused = None
    while time.monotonic() - deleted_at < 1.0 and (rest_refused is None or grpc_refused is None):
        if rest_refused is None and api.get("/v1/chat/conversations", **alice_key.headers).status_code == 401:
            rest_refused = time.monotonic() - deleted_at
        if grpc_refused is None:
            try:
                chat.ListConversations(chat_pb2.ListConversationsRequest(), metadata=alice_key.metadata)
            except grpc.RpcError as exc:
                assert exc.code() is grpc.StatusCode.UNAUTHENTICATED
                grpc_refused = time.monotonic() - deleted_at
        time.sleep(0.02)
    assert rest_refused is not None and rest_refused < 1.0
    assert grpc_refused is not None and grpc_refused < 1.0
    assert api.get("/v1/chat/conversations", **alice.headers).status_code == 200  # the owner's session lives on


async def test_a_key_works_on_the_websocket_as_its_owner(alice, alice_key, upstream):
    # given
    upstream.enqueue(reply(["Hi"], usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}))
    ws = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {alice_key.key}".encode())]
    )
    connected, _ = await ws.connect()
    assert connected
    # when
    await ws.send_json_to({"type": "message", "content": "hello"})
    frames = []
    while not frames or frames[-1]["type"] not in {"done", "error"}:
        frames.append(json.loads(await ws.receive_from(timeout=5)))
    # then
    assert frames[0]["type"] == "ack" and frames[-1]["type"] == "done"
    owner = await sync_to_async(lambda: Conversation.objects.get(id=frames[0]["conversation_id"]).user_id)()
    assert owner == alice.user_id
    await ws.disconnect()


async def test_a_key_in_the_auth_frame_works_and_a_changed_one_closes_4401(alice_key):
    # given
    good = WebsocketCommunicator(application, "/ws/chat/")
    bad = WebsocketCommunicator(application, "/ws/chat/")
    await good.connect()
    await bad.connect()
    # when
    await good.send_json_to({"type": "auth", "token": alice_key.key})
    await good.send_json_to({"type": "auth", "token": alice_key.key})  # already authenticated: an error frame
    await bad.send_json_to({"type": "auth", "token": _changed(alice_key.key)})
    # then
    assert json.loads(await good.receive_from(timeout=5))["message"] == "Already authenticated."
    frame = json.loads(await bad.receive_from(timeout=5))
    assert frame["code"] == "unauthenticated" and alice_key.key[-12:] not in json.dumps(frame)
    assert (await bad.receive_output(timeout=3))["code"] == 4401
    await good.disconnect()


async def test_an_open_socket_of_a_deleted_key_is_closed_4401_within_a_second(auth_service, alice, alice_key):
    # given
    ws = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {alice_key.key}".encode())]
    )
    connected, _ = await ws.connect()
    assert connected
    await asyncio.sleep(0.1)
    # when
    deleted_at = await sync_to_async(_delete)(auth_service, alice, alice_key)
    # then
    frame = json.loads(await ws.receive_from(timeout=3))
    closed = await ws.receive_output(timeout=3)
    assert frame["code"] == "unauthenticated" and closed["code"] == 4401
    assert time.monotonic() - deleted_at < 1.0
