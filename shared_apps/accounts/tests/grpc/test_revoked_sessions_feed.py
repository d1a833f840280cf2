"""auth.AuthService/ListRevokedSessions: the feed verifying services poll."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from protos import auth_pb2
from shared_apps.accounts.tests.conftest import bearer_metadata, service_metadata
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.authn import revocation
from shared_apps.authn.revocation import RevocationFeed
from shared_apps.core.errors import ServiceUnavailable


def test_lists_ended_sessions_and_a_cursor(auth_stub):
    # given
    user = UserFactory()
    live, ended = (auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD)).tokens for _ in "ab")
    auth_stub.RevokeToken(auth_pb2.RevokeTokenRequest(access_token=ended.access_token))
    # when
    first = auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(), metadata=service_metadata())
    # then
    assert ended.id in first.session_ids
    assert live.id not in first.session_ids
    assert first.HasField("cursor") and first.cursor.seconds > 0

    # given: one more session ends after the cursor
    auth_stub.SignOut(auth_pb2.SignOutRequest(access_token=live.access_token))
    # when
    second = auth_stub.ListRevokedSessions(
        auth_pb2.ListRevokedSessionsRequest(since=first.cursor), metadata=service_metadata()
    )
    # then
    assert live.id in second.session_ids
    assert second.cursor.ToDatetime() >= first.cursor.ToDatetime()


@pytest.mark.parametrize("seconds", [2**40, -(2**40), -62135596800, -1])
def test_out_of_range_cursor_is_invalid_argument(auth_stub, seconds):
    # given
    since = Timestamp(seconds=seconds)
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(since=since), metadata=service_metadata())
    # then
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def _anyone_with(token: str | None, *, bearer: str | None = None) -> tuple[tuple[str, str], ...]:
    metadata = [] if token is None else [("x-service-token", token)]
    return (*metadata, *(bearer_metadata(bearer) if bearer else ()))


@pytest.mark.parametrize("credential", ["none", "wrong", "prefix", "user_token"])
def test_the_feed_answers_only_the_chat_service(auth_stub, settings, credential):
    # given: a session has ended (the feed would list it), and a caller without the service credential
    user = UserFactory()
    tokens = auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD)).tokens
    auth_stub.RevokeToken(auth_pb2.RevokeTokenRequest(access_token=tokens.access_token))
    live = auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD)).tokens
    metadata = {
        "none": _anyone_with(None),
        "wrong": _anyone_with("w" * len(settings.AUTH_SERVICE_TOKEN)),
        "prefix": _anyone_with(settings.AUTH_SERVICE_TOKEN[:-1]),
        "user_token": _anyone_with(None, bearer=live.access_token),  # a signed-in user is not the chat service
    }[credential]
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(), metadata=metadata)
    # then: nothing of the feed, and the chat service itself is still answered
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert tokens.id not in str(caught.value.details())
    served = auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(), metadata=service_metadata())
    assert tokens.id in served.session_ids


def test_a_feed_client_with_the_wrong_credential_fails_closed(auth_grpc_target, monkeypatch):
    # given: the chat side's feed client pointed at the real server, with a credential that is not the auth side's
    monkeypatch.setattr(revocation, "FIRST_SYNC_WAIT_SECONDS", 1.0)
    target = auth_grpc_target
    feed = RevocationFeed(target, poll_seconds=0.05, max_staleness=1.0, forget_after=60, service_token="x" * 40)
    right = RevocationFeed(target, poll_seconds=0.05, max_staleness=1.0, forget_after=60)
    try:
        # when / then: it never learns the state, so it refuses to vouch for any session
        with pytest.raises(ServiceUnavailable):
            feed.is_revoked("00000000-0000-0000-0000-000000000000")
        # and the client configured like the chat service (AUTH_SERVICE_TOKEN) is served
        assert right.is_revoked("00000000-0000-0000-0000-000000000000") is False
    finally:
        feed.stop()
        right.stop()
