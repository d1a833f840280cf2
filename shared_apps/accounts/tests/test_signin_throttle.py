"""Repeated failed sign-ins are slowed down, per account and per client address."""

from __future__ import annotations

import logging
import time

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


# --- an attack on one account from many addresses ------------------------------------------------


def _from(api, email: str, password: str, address: str):
    return api.post(URL, {"email": email, "password": password}, format="json", REMOTE_ADDR=address)


def test_failures_lock_out_the_failing_address_of_that_account_only(api, user, settings):
    # given: one address fails on the account as often as allowed (the account is not yet slowed)
    settings.SIGNIN_ACCOUNT_SLOW_AFTER = 100
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        assert _from(api, user.email, "wrong-password-1", "198.51.100.1").status_code == 401
    # when: that address, then another one, sends the right password
    locked = _from(api, user.email, PASSWORD, "198.51.100.1")
    other = _from(api, user.email, PASSWORD, "198.51.100.2")
    # then: the pair is locked for the window; the account is not
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 60
    assert other.status_code == 200


def test_an_attack_from_many_addresses_slows_the_account_but_lets_its_owner_in(api, user, settings):
    # given: the owner signed in before from their usual address
    settings.SIGNIN_ACCOUNT_SLOW_AFTER = 10
    settings.SIGNIN_ACCOUNT_SLOW_SECONDS = 1
    assert _from(api, user.email, PASSWORD, "198.51.100.10").status_code == 200
    # when: 15 addresses guess twice each, as fast as they can
    attack_started = time.monotonic()
    answers = [
        _from(api, user.email, f"guess-{n}-{k}", f"203.0.113.{n}").status_code for n in range(15) for k in range(2)
    ]
    attack_seconds = time.monotonic() - attack_started
    # then: past 10 failures the guesses are slowed (refused before any hashing) to one checked per
    # SIGNIN_ACCOUNT_SLOW_SECONDS, however fast or slow this machine ran them
    assert answers[:10] == [401] * 10
    assert answers[10:].count(401) <= 1 + attack_seconds / settings.SIGNIN_ACCOUNT_SLOW_SECONDS
    assert set(answers) == {401, 429}

    # and: the owner, from their usual address, gets in at once
    assert _from(api, user.email, PASSWORD, "198.51.100.10").status_code == 200
    # and: from a new address, within seconds (never the 15-minute window)
    started = time.monotonic()
    for _ in range(5):
        response = _from(api, user.email, PASSWORD, "198.51.100.77")
        if response.status_code == 200:
            break
        assert response.status_code == 429
        assert int(response["Retry-After"]) <= settings.SIGNIN_ACCOUNT_SLOW_SECONDS
        time.sleep(int(response["Retry-After"]))
    assert response.status_code == 200
    assert time.monotonic() - started < 5
