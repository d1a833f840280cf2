"""A sign-in flood cannot take every thread: beyond the hashing slots and a short queue,
callers are told to retry (429 with Retry-After) at once instead of waiting."""

from __future__ import annotations

import threading

import pytest

from shared_apps.accounts.passwords import hashing_slot
from shared_apps.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_slot_no_queue(settings):
    import shared_apps.accounts.passwords as passwords

    settings.PASSWORD_HASH_CONCURRENCY = 1
    settings.PASSWORD_HASH_MAX_WAITING = 0
    passwords._slots = None  # rebuilt from the settings above
    yield
    passwords._slots = None


def test_signin_beyond_the_hashing_capacity_is_429(api, user, one_slot_no_queue):
    # given: the only hashing slot is busy
    busy, release = threading.Event(), threading.Event()

    def hold():
        with hashing_slot():
            busy.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
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
