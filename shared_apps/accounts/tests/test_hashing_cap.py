"""A sign-in flood cannot take every thread: beyond the hashing slots and a short queue,
callers are told to retry (429 with Retry-After) at once instead of waiting."""

from __future__ import annotations

import threading

import pytest

import shared_apps.accounts.passwords as passwords
from shared_apps.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_slot_no_queue(settings):
    settings.PASSWORD_HASH_CONCURRENCY = 1
    settings.PASSWORD_HASH_MAX_WAITING = 0
    passwords.hashing_pool_reset()  # rebuilt from the settings above
    yield
    passwords.hashing_pool_reset()


def test_signin_beyond_the_hashing_capacity_is_429(api, user, one_slot_no_queue):
    # given: the only hashing slot is busy
    busy, release = threading.Event(), threading.Event()

    def hold():
        busy.set()
        release.wait(10)

    holder = threading.Thread(target=lambda: passwords._hash_run(hold))
    holder.start()
    busy.wait(5)
    try:
        # when
        response = api.post("/v1/auth/signin", {"email": user.email, "password": PASSWORD}, format="json")
    finally:
        release.set()
        holder.join(5)
    # then: refused at once with a retry hint, and the account is not penalised
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert "busy" in response.json()["error"]["message"]
    assert api.post("/v1/auth/signin", {"email": user.email, "password": PASSWORD}, format="json").status_code == 200


def test_hashing_threads_run_at_lower_priority(settings):
    import os

    settings.PASSWORD_HASH_NICE = 7
    passwords.hashing_pool_reset()
    try:
        nice = passwords._hash_run(lambda: os.getpriority(os.PRIO_PROCESS, 0))
    finally:
        passwords.hashing_pool_reset()
    assert nice == os.getpriority(os.PRIO_PROCESS, 0) + 7 or nice == 7
