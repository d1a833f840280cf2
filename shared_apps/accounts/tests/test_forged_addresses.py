"""Client addresses come from the socket, or from X-Forwarded-For only when a proxy listed in
TRUSTED_PROXIES sent the request; per-address admission keeps a flood from one address from
taking the hashing capacity of everyone else."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import connection
from rest_framework.test import APIClient

import shared_apps.accounts.passwords as passwords
from shared_apps.accounts.models import Session
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.core.testing import FastArgon2PasswordHasher

pytestmark = pytest.mark.django_db
URL = "/v1/auth/signin"
ATTACKER = "203.0.113.66"
PROXY = "10.1.2.3"


def _signin(api: APIClient, email: str, password: str, *, peer: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return api.post(URL, {"email": email, "password": password}, format="json", **headers)


def test_rotating_x_forwarded_for_does_not_dodge_the_per_address_throttle(api, settings):
    # given: the per-address limit, and an attacker who sends a new forged address each time
    settings.SIGNIN_MAX_FAILURES_PER_IP = 3
    for n in range(3):
        response = _signin(api, f"ghost{n}@example.com", "wrong-password-1", peer=ATTACKER, forwarded=f"198.51.100.{n}")
        assert response.status_code == 401
    # when
    response = _signin(api, "ghost9@example.com", "wrong-password-1", peer=ATTACKER, forwarded="198.51.100.99")
    # then: the attacker's real address is throttled
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 1


def test_the_session_stores_the_peer_not_a_forged_header(api, user):
    # when
    response = _signin(api, user.email, PASSWORD, peer="198.51.100.20", forwarded="6.6.6.6")
    # then
    assert response.status_code == 200
    assert Session.objects.get(user=user).ip_address == "198.51.100.20"


@pytest.mark.parametrize(
    "peer, forwarded, stored",
    [
        (PROXY, "198.51.100.7", "198.51.100.7"),  # the proxy replaced the header
        (PROXY, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the proxy appended: the left part is the client's
        ("10.200.0.9", "6.6.6.6", "10.200.0.9"),  # a peer outside TRUSTED_PROXIES is the client itself
        (PROXY, None, PROXY),  # no header: the peer
    ],
)
def test_behind_a_trusted_proxy_the_address_it_reports_is_used(api, user, settings, peer, forwarded, stored):
    # given
    settings.TRUSTED_PROXIES = ["10.1.0.0/16"]
    # when
    response = _signin(api, user.email, PASSWORD, peer=peer, forwarded=forwarded)
    # then
    assert response.status_code == 200
    assert Session.objects.get(user=user).ip_address == stored


def test_logged_requests_carry_the_trusted_address(api, caplog):
    # when: a request with a forged header from an untrusted peer
    with caplog.at_level(logging.INFO):
        _signin(api, "nobody@example.com", "wrong-password-1", peer="198.51.100.30", forwarded="6.6.6.6")
    # then: the request log names the peer, never the forged address
    text = caplog.text
    assert "198.51.100.30" in text
    assert "6.6.6.6" not in text


# --- a sign-in flood cannot take the hashing capacity of everyone else -------------------------------


class GatedHasher(FastArgon2PasswordHasher):
    """Hashes of passwords starting with ``flood-`` wait for the gate: the flood's hashes are
    certainly still in flight while the real users sign in."""

    gate = threading.Event()

    def encode(self, password, salt, *args, **kwargs):
        if str(password).startswith("flood-"):
            self.gate.wait(10)
        return super().encode(password, salt, *args, **kwargs)


assert issubclass(GatedHasher, Argon2PasswordHasher)  # same algorithm name: it verifies the users' hashes


@pytest.fixture
def production_hashing_limits(settings):
    """The production admission defaults on a small hashing capacity."""
    settings.PASSWORD_HASHERS = [f"{__name__}.GatedHasher"]
    settings.PASSWORD_HASH_CONCURRENCY = 2
    settings.PASSWORD_HASH_MAX_WAITING = 2
    settings.PASSWORD_HASH_MAX_PER_ADDRESS = 1
    settings.PASSWORD_HASH_MAX_PER_ACCOUNT = 1
    passwords.hashing_pool_reset()
    GatedHasher.gate.clear()
    yield
    GatedHasher.gate.set()
    passwords.hashing_pool_reset()


@pytest.mark.django_db(transaction=True)
def test_a_flood_with_rotating_headers_leaves_hashing_for_real_users(production_hashing_limits):
    # given: real users, each on an address of their own
    users = [UserFactory() for _ in range(8)]
    # and: a flood of unauthenticated sign-ins from one attacker, a new forged address each time
    flood_answers: list[int] = []
    lock = threading.Lock()

    def flood(n: int) -> None:
        try:
            response = _signin(
                APIClient(), f"ghost{n}@example.com", "flood-guess", peer=ATTACKER, forwarded=f"198.51.100.{n}"
            )
            with lock:
                flood_answers.append(response.status_code)
        finally:
            connection.close()  # this thread's own; the test database is dropped at the end

    threads = [threading.Thread(target=flood, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    # the flood requests that were not admitted have answered; the admitted ones are hashing
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(flood_answers) + passwords._admitted < len(threads):
        time.sleep(0.01)
    try:
        # when: the real users sign in while the flood's hashes are in flight
        answers = [
            _signin(APIClient(), u.email, PASSWORD, peer=f"198.51.100.{100 + i}").status_code
            for i, u in enumerate(users)
        ]
    finally:
        GatedHasher.gate.set()
        for thread in threads:
            thread.join(10)
    # then: every real user got in; the flood held one hashing place, the rest was refused at once
    assert answers == [200] * len(users)
    assert flood_answers.count(429) == len(threads) - 1
