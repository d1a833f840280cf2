"""auth.AuthService/SignUp and SignIn over a real channel."""

from __future__ import annotations

import grpc
import pytest

from protos import auth_pb2
from shared_apps.accounts.models import User
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory


def test_signup(auth_stub):
    # when
    response, call = auth_stub.SignUp.with_call(
        auth_pb2.UserCreateRequest(name="Ada", email="Ada@Example.com", password=PASSWORD),
        metadata=(("x-request-id", "grpc-req-1"),),
    )
    # then
    assert response.user.email == "ada@example.com"
    assert response.user.HasField("created_at")
    assert response.tokens.access_token and response.tokens.refresh_token
    assert response.tokens.user_id == response.user.id
    assert response.tokens.HasField("access_expires_at") and not response.tokens.is_revoked
    assert ("x-request-id", "grpc-req-1") in call.initial_metadata()
    assert User.objects.filter(email="ada@example.com").exists()


def test_request_id_is_generated_when_absent(auth_stub):
    # when
    _response, call = auth_stub.ValidateToken.with_call(auth_pb2.ValidateTokenRequest(token="x"))
    # then
    assert dict(call.initial_metadata())["x-request-id"]


def test_signup_duplicate_is_already_exists(auth_stub):
    # given
    existing = UserFactory()
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.SignUp(auth_pb2.UserCreateRequest(name="X", email=existing.email.upper(), password=PASSWORD))
    # then
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"name": "X", "email": "not-an-email", "password": PASSWORD},
        {"name": "X", "email": "w@example.com", "password": "123"},
        {"name": "X", "email": "w@example.com", "password": ""},
        {"name": "X" * 151, "email": "w@example.com", "password": PASSWORD},
        {"name": "X", "email": "a" * 250 + "@example.com", "password": PASSWORD},
        {"name": "nul\x00name", "email": "w@example.com", "password": PASSWORD},
        {"name": "X", "email": "w@example.com", "password": "p" * 300},
    ],
)
def test_signup_bad_input_is_invalid_argument(auth_stub, request_kwargs):
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.SignUp(auth_pb2.UserCreateRequest(**request_kwargs))
    # then
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert not User.objects.exists()


def test_signin(auth_stub):
    # given
    user = UserFactory()
    # when
    response = auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD))
    # then
    assert response.user.id == str(user.id)
    assert response.tokens.access_token


@pytest.mark.parametrize(
    "email, password",
    [
        ("known", "wrong-password-1"),
        ("ghost@example.com", "wrong-password-1"),
        ("", ""),
        ("nul\x00@example.com", "x"),
        ("a" * 300 + "@example.com", "x"),
    ],
)
def test_signin_bad_credentials_is_unauthenticated(auth_stub, email, password):
    # given
    user = UserFactory()
    email = user.email if email == "known" else email
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.SignIn(auth_pb2.Credentials(email=email, password=password))
    # then
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details() == "Invalid email or password."
