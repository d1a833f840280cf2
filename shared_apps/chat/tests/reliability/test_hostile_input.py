"""Input built to crash the parser or the database rather than to be wrong: JSON nested
deeper than the parser's recursion limit, an offset past the database's integers, bytes that
are no protobuf at all. Each is a client's mistake: 400 / INVALID_ARGUMENT / an ``error``
frame on a socket that stays usable, never 500, INTERNAL or a closed socket."""

from __future__ import annotations

import json

import grpc
import pytest

from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.tests.reliability.conftest import connect, frames_until
from testkit.fake_openai import reply

pytestmark = pytest.mark.django_db(transaction=True)

# Well under every size limit (64 kB a frame, 1 MB a body), far over json's recursion limit.
NESTED_ARRAY = "[" * 30_000 + "]" * 30_000
NESTED_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000


@pytest.mark.parametrize("body", [NESTED_ARRAY, NESTED_OBJECT], ids=["array", "object"])
def test_rest_deeply_nested_json_is_400(api, alice, body):
    for path in ("/v1/chat/conversations", "/v1/chat/ai"):
        # when
        response = api.post(path, data=body, content_type="application/json", **alice.headers)
        # then
        assert response.status_code == 400, (path, response.status_code)
        assert response.json()["error"]["code"] == "invalid_argument"


@pytest.mark.parametrize("offset", [2**63, 2**63 - 1, 2**31, 10**30])
def test_rest_offset_beyond_any_page_is_400(api, alice, offset):
    conversation = api.post("/v1/chat/conversations", {"title": "x"}, format="json", **alice.headers).json()
    for path in ("/v1/chat/conversations", f"/v1/chat/conversations/{conversation['id']}/messages"):
        # when
        response = api.get(path, {"offset": offset}, **alice.headers)
        # then
        assert response.status_code == 400, (path, offset, response.status_code)
        assert response.json()["error"]["code"] == "invalid_argument"
    # and the largest offset allowed still answers an (empty) page
    assert api.get("/v1/chat/conversations", {"offset": 2**31 - 1}, **alice.headers).status_code == 200


async def test_ws_deeply_nested_frame_is_an_error_frame_and_the_socket_stays(alice, upstream):
    ws = connect(alice)
    connected, _ = await ws.connect()
    assert connected
    for raw in (NESTED_ARRAY, NESTED_OBJECT, '{"type": "message", "content": "x", "extra": ' + NESTED_ARRAY + "}"):
        # when
        await ws.send_to(text_data=raw)
        # then
        frame = json.loads(await ws.receive_from(timeout=5))
        assert frame["type"] == "error" and frame["code"] == "invalid_frame", frame
    # and the same socket still streams a reply
    upstream.enqueue(reply(["still ", "here"]))
    await ws.send_json_to({"type": "message", "content": "hello?"})
    frames = await frames_until(ws)
    assert frames[-1]["type"] == "done" and frames[-1]["message"]["content"] == "still here"
    await ws.disconnect()


@pytest.mark.parametrize(
    "payload", [b"\xff" * 10, b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"\x0a\x05ab"], ids=repr
)
def test_grpc_undecodable_request_bytes_are_invalid_argument(grpc_channel, alice, payload):
    unary = grpc_channel.unary_unary(
        "/chat.ChatService/ListConversations", request_serializer=None, response_deserializer=None
    )
    stream = grpc_channel.unary_stream(
        "/chat.ChatService/StreamMessages", request_serializer=None, response_deserializer=None
    )
    health = grpc_channel.unary_unary(
        "/grpc.health.v1.Health/Check", request_serializer=None, response_deserializer=None
    )
    # when / then: a unary call, a stream and a public method; without a token the call is
    # refused for that first (the bytes are never looked at)
    for call, metadata, expected in [
        (unary, alice.metadata, grpc.StatusCode.INVALID_ARGUMENT),
        (lambda *a, **k: list(stream(*a, **k)), alice.metadata, grpc.StatusCode.INVALID_ARGUMENT),
        (health, (), grpc.StatusCode.INVALID_ARGUMENT),
        (unary, (), grpc.StatusCode.UNAUTHENTICATED),
        (lambda *a, **k: list(stream(*a, **k)), (), grpc.StatusCode.UNAUTHENTICATED),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            call(payload, metadata=metadata, timeout=10)
        assert caught.value.code() is expected, caught.value
    # and the server keeps serving
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    assert chat.ListConversations(chat_pb2.ListConversationsRequest(), metadata=alice.metadata).total == 0
