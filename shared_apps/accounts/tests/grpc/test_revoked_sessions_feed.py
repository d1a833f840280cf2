"""auth.AuthService/ListRevokedSessions: the feed verifying services poll."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from protos import auth_pb2
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory


def test_lists_ended_sessions_and_a_cursor(auth_stub):
    # given
    user = UserFactory()
    live, ended = (auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD)).tokens for _ in "ab")
    auth_stub.RevokeToken(auth_pb2.RevokeTokenRequest(access_token=ended.access_token))
    # when
    first = auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest())
    # then
    assert ended.id in first.session_ids
    assert live.id not in first.session_ids
    assert first.HasField("cursor") and first.cursor.seconds > 0

    # given: one more session ends after the cursor
    auth_stub.SignOut(auth_pb2.SignOutRequest(access_token=live.access_token))
    # when
    second = auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(since=first.cursor))
    # then
    assert live.id in second.session_ids
    assert second.cursor.ToDatetime() >= first.cursor.ToDatetime()


@pytest.mark.parametrize("seconds", [2**40, -(2**40), -62135596800, -1])
def test_out_of_range_cursor_is_invalid_argument(auth_stub, seconds):
    # given
    since = Timestamp(seconds=seconds)
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(since=since))
    # then
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
