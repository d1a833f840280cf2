"""Second attack pass, chat side."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User as StaffUser
from django.test import Client

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"
STAFF_PASSWORD = "s3cret-pass-word"


# --- the admin's login form -----------------------------------------------------------------------
# Chat staff read every user's conversations in the admin. Before this pass its login form used
# Django's ModelBackend: unlimited guesses, each an Argon2 hash outside the bounded queue.


def _admin_login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def _signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_chat_admin_login_guesses_are_throttled(settings):
    # given: a chat staff account and a guesser
    StaffUser.objects.create_superuser("ops", "ops@example.com", STAFF_PASSWORD)
    guesser = Client()
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        assert _admin_login(guesser, "ops", "wrong-password-1").status_code == 200
    # when: the guesser hits the right password
    right = _admin_login(guesser, "ops", STAFF_PASSWORD)
    # then: refused with the throttle's message; no admin session
    assert right.status_code == 200
    assert "Too many failed sign-in attempts" in right.content.decode()
    assert not _signed_in(guesser)


def test_chat_admin_login_still_works():
    # given
    StaffUser.objects.create_superuser("ops", "ops@example.com", STAFF_PASSWORD)
    client = Client()
    # when
    response = _admin_login(client, "ops", STAFF_PASSWORD)
    # then
    assert response.status_code == 302
    assert _signed_in(client)
