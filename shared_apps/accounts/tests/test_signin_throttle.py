"""Repeated failed sign-ins are slowed down, per account and per client address."""

from __future__ import annotations

import logging

import grpc
import pytest

from protos import auth_pb2
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
URL = "/v1/auth/signin"


def _fail(api, email: str):
    return api.post(URL, {"email": email, "password": "wrong-password-1"}, format="json")


def test_account_lockout_is_429_with_retry_after(api, user, settings, caplog):
    # given
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        assert _fail(api, user.email).status_code == 401
    # when
    with caplog.at_level(logging.INFO):
        wrong = _fail(api, user.email)
        right = api.post(URL, {"email": user.email.upper(), "password": PASSWORD}, format="json")
    # then
    assert wrong.status_code == right.status_code == 429
    assert right.json()["error"]["code"] == "rate_limited"
    assert 0 < int(right["Retry-After"]) <= settings.SIGNIN_FAILURE_WINDOW_SECONDS
    assert right.json()["error"]["details"]["retry_after"] == int(right["Retry-After"])
    assert "signin_throttled" in caplog.text


def test_lockout_of_one_account_leaves_others_alone(api, user, settings):
    # given
    other = UserFactory()
    settings.SIGNIN_MAX_FAILURES_PER_IP = 100
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        _fail(api, user.email)
    # when
    response = api.post(URL, {"email": other.email, "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 200


def test_success_resets_the_account_counter(api, user, settings):
    # given
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT - 1):
        _fail(api, user.email)
    assert api.post(URL, {"email": user.email, "password": PASSWORD}, format="json").status_code == 200
    # when
    response = _fail(api, user.email)
    # then
    assert response.status_code == 401


def test_per_ip_limit_across_accounts(api, settings, caplog):
    # given
    settings.SIGNIN_MAX_FAILURES_PER_IP = 3
    for n in range(3):
        assert _fail(api, f"ghost{n}@example.com").status_code == 401
    # when
    with caplog.at_level(logging.INFO):
        response = _fail(api, "fresh@example.com")
    # then
    assert response.status_code == 429
    assert "Retry-After" in response
    assert "signin_throttled" in caplog.text
    elsewhere = api.post(URL, {"email": "fresh@example.com", "password": "x"}, format="json", REMOTE_ADDR="10.9.8.7")
    assert elsewhere.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_grpc_lockout_is_resource_exhausted(auth_stub, settings):
    # given
    user = UserFactory()
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        with pytest.raises(grpc.RpcError):
            auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password="wrong-password-1"))
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD))
    # then
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(dict(caught.value.trailing_metadata())["retry-after"]) > 0
