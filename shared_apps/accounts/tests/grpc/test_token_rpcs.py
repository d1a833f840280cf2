"""auth.AuthService/RefreshToken, SignOut, RevokeToken, ValidateToken over a real channel."""

from __future__ import annotations

import grpc
import pytest

from protos import auth_pb2
from shared_apps.accounts.models import Session
from shared_apps.accounts.tests.conftest import bearer_metadata
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory


@pytest.fixture
def grpc_tokens(auth_stub):
    user = UserFactory()
    return auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD)).tokens


def _valid(auth_stub, token: str) -> bool:
    return auth_stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=token)).valid


def test_refresh_rotates_and_reuse_ends_the_session(auth_stub, grpc_tokens):
    # when
    new = auth_stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=grpc_tokens.refresh_token)).tokens
    with pytest.raises(grpc.RpcError) as reuse:
        auth_stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=grpc_tokens.refresh_token))
    # then
    assert new.id == grpc_tokens.id
    assert reuse.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert not _valid(auth_stub, new.access_token)


@pytest.mark.parametrize("which", ["access", "empty", "junk"])
def test_refresh_with_a_non_refresh_token_is_unauthenticated(auth_stub, grpc_tokens, which):
    # given
    token = {"access": grpc_tokens.access_token, "empty": "", "junk": "x.y.z"}[which]
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=token))
    # then
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("how", ["body", "metadata"])
def test_signout_ends_the_session(auth_stub, grpc_tokens, how):
    # given
    request = auth_pb2.SignOutRequest(access_token=grpc_tokens.access_token if how == "body" else "")
    metadata = bearer_metadata(grpc_tokens.access_token) if how == "metadata" else ()
    # when
    auth_stub.SignOut(request, metadata=metadata)
    # then
    assert not _valid(auth_stub, grpc_tokens.access_token)
    assert Session.objects.get(id=grpc_tokens.id).revoke_reason == Session.EndReason.SIGNOUT
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=grpc_tokens.refresh_token))
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_signout_without_a_token_is_unauthenticated(auth_stub):
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.SignOut(auth_pb2.SignOutRequest())
    # then
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_revoke_ends_the_session(auth_stub, grpc_tokens):
    # when
    auth_stub.RevokeToken(auth_pb2.RevokeTokenRequest(access_token=grpc_tokens.access_token))
    # then
    assert not _valid(auth_stub, grpc_tokens.access_token)
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.RevokeToken(auth_pb2.RevokeTokenRequest(access_token=grpc_tokens.access_token))
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_validate(auth_stub, grpc_tokens):
    # when
    good = auth_stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=grpc_tokens.access_token))
    bad = auth_stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=grpc_tokens.refresh_token))
    # then
    assert (good.valid, good.user_id, good.session_id, good.error_message) == (
        True,
        grpc_tokens.user_id,
        grpc_tokens.id,
        "",
    )
    assert not bad.valid and bad.user_id == "" and bad.error_message


def test_invalid_bearer_on_a_public_method_is_ignored(auth_stub):
    # when
    response = auth_stub.ValidateToken(auth_pb2.ValidateTokenRequest(token="x"), metadata=bearer_metadata("junk"))
    # then
    assert not response.valid
