"""Second attack pass, auth side: the Django admin's sign-in form.

The admin's login form authenticates through Django's authentication backends, not through
``services.user_signin``: before this pass it skipped the sign-in throttles and the hashing
admission, so a guesser could try staff passwords without limit and every guess ran Argon2
outside the bounded hashing queue.
"""

from __future__ import annotations

import pytest
from django.test import Client

from shared_apps.accounts.tests.factories import PASSWORD, StaffUserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"
REST_SIGNIN = "/v1/auth/signin"


def _admin_login(client: Client, email: str, password: str):
    return client.post(LOGIN, {"username": email, "password": password})


def _signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_admin_login_guesses_are_throttled_like_signin(settings):
    # given: a staff account and a guesser at the admin's login form
    staff = StaffUserFactory()
    guesser = Client()
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        response = _admin_login(guesser, staff.email, "wrong-password-1")
        assert response.status_code == 200  # the form again, with an error
    # when: the guesser keeps going and then hits the right password
    wrong = _admin_login(guesser, staff.email, "wrong-password-2")
    right = _admin_login(guesser, staff.email, PASSWORD)
    # then: both are refused with the throttle's message, and no admin session exists
    assert wrong.status_code == right.status_code == 200
    assert "Too many failed sign-in attempts" in right.content.decode()
    assert not _signed_in(guesser)


def test_admin_login_failures_count_towards_the_rest_lockout(api, settings):
    # given: guesses at the admin form
    staff = StaffUserFactory()
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        _admin_login(Client(), staff.email, "wrong-password-1")
    # when: the same address signs in over REST with the right password
    response = api.post(REST_SIGNIN, {"email": staff.email, "password": PASSWORD}, format="json")
    # then: one account, one count: the lock-out holds on every door
    assert response.status_code == 429


def test_rest_lockout_holds_at_the_admin_form(api, settings):
    # given: an address locked out of the account over REST
    staff = StaffUserFactory()
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        api.post(REST_SIGNIN, {"email": staff.email, "password": "wrong-password-1"}, format="json")
    client = Client()
    # when
    _admin_login(client, staff.email, PASSWORD)
    # then
    assert not _signed_in(client)


def test_admin_login_still_works_for_staff():
    # given
    staff = StaffUserFactory()
    client = Client()
    # when
    response = _admin_login(client, staff.email, PASSWORD)
    # then
    assert response.status_code == 302
    assert _signed_in(client)
