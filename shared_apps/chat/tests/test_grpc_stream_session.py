"""An open gRPC stream re-checks its session: signed out, revoked or expired, it ends with
UNAUTHENTICATED within a second, as an open websocket is closed with 4401. The check is made
once for every server stream (the stream path of the gRPC interceptors), so both of the chat
service's streams are attacked here the same way: opened, then the session is ended behind them."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import grpc
import pytest

from protos import auth_pb2, chat_pb2, chat_pb2_grpc
from shared_apps.chat.tests.grpc_streams import FOLLOW, Reader
from testkit.fake_openai import stall_after

pytestmark = pytest.mark.django_db(transaction=True)


def open_streams(chat, who, upstream) -> list[Reader]:
    """A StreamMessages follower and a StreamChatWithAI whose model stalls after one delta; both
    have delivered something (they are really open) when this returns."""
    created = chat.CreateConversation(chat_pb2.Conversation(title="watched"), metadata=who.metadata)
    chat.SendMessage(chat_pb2.ChatRequest(message="first", conversation_id=created.id), metadata=who.metadata)
    follower = Reader(
        chat.StreamMessages(chat_pb2.StreamMessageRequest(conversation_id=created.id, **FOLLOW), metadata=who.metadata)
    )
    upstream.enqueue(stall_after(1))
    replying = Reader(chat.StreamChatWithAI(chat_pb2.ChatWithAIRequest(message="go on"), metadata=who.metadata))
    for reader in (follower, replying):
        assert reader.first.wait(10) and not reader.ended.is_set(), reader.code
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(item.HasField("delta") for item in replying.items):
        time.sleep(0.01)
    return [follower, replying]


@pytest.mark.parametrize("how", ["signout", "revoke"])
def test_open_streams_end_unauthenticated_within_a_second_of_the_session_ending(
    grpc_channel, alice, bob, auth_service, upstream, how
):
    # given: two open streams of alice's, and one of bob's
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    streams = open_streams(chat, alice, upstream)
    created = chat.CreateConversation(chat_pb2.Conversation(title="bob"), metadata=bob.metadata)
    chat.SendMessage(chat_pb2.ChatRequest(message="hi", conversation_id=created.id), metadata=bob.metadata)
    bobs = Reader(
        chat.StreamMessages(chat_pb2.StreamMessageRequest(conversation_id=created.id, **FOLLOW), metadata=bob.metadata)
    )
    assert bobs.first.wait(10)
    # when: alice's session ends at the auth service
    if how == "signout":
        auth_service.stub.SignOut(auth_pb2.SignOutRequest(access_token=alice.access))
    else:
        auth_service.stub.RevokeToken(auth_pb2.RevokeTokenRequest(access_token=alice.access))
    ended_at = time.monotonic()
    # then: both of her streams end UNAUTHENTICATED within a second
    for reader in streams:
        assert reader.ended.wait(5), "the stream outlived its session"
        assert reader.code is grpc.StatusCode.UNAUTHENTICATED
        assert reader.ended_at - ended_at < 1.0, reader.ended_at - ended_at
    # and bob's stream goes on
    time.sleep(0.3)
    assert not bobs.ended.is_set()
    bobs.call.cancel()


def test_open_streams_end_unauthenticated_when_the_token_expires(grpc_channel, alice, upstream):
    from shared_apps.authn.tokens import SessionAccessToken
    from shared_apps.authn.verify import access_token_claims

    # given: alice's session with an access token that expires in three seconds
    claims = access_token_claims(alice.access)
    short = SessionAccessToken()
    short.payload.update({key: claims[key] for key in ("sub", "sid")})
    short.set_exp(lifetime=timedelta(seconds=3))
    expires_at = int(short["exp"])
    metadata = (("authorization", f"Bearer {short}"),)
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)

    streams = open_streams(chat, SimpleNamespace(metadata=metadata), upstream)
    # then: each ends UNAUTHENTICATED within a second of the expiry
    for reader in streams:
        assert reader.ended.wait(6), "the stream outlived its token"
        assert reader.code is grpc.StatusCode.UNAUTHENTICATED
    ended_wall = time.time() - (time.monotonic() - max(r.ended_at for r in streams))
    assert ended_wall - expires_at < 1.0, ended_wall - expires_at
