"""Second attack pass, auth side: the Django admin's sign-in form.

The admin's login form authenticates through Django's authentication backends, not through
``services.user_signin``: before this pass it skipped the sign-in throttles and the hashing
admission, so a guesser could try staff passwords without limit and every guess ran Argon2
outside the bounded hashing queue.
"""

from __future__ import annotations

import uuid

import grpc
import pytest
from django.test import Client

from protos import auth_pb2
from shared_apps.accounts.models import User
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


# --- accounts in bulk -------------------------------------------------------------------------------
# Every account has its own chat allowances (messages per minute, tokens per day, replies in
# flight). Before this pass sign-up had no limit per address: one client could make accounts as
# fast as the hashing admission let it (one at a time per address), multiplying those caps.


def _signup(api, n: int, **extra):
    body = {"name": "Bulk", "email": f"bulk{n}-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    return api.post("/v1/auth/signup", body, format="json", **extra)


@pytest.mark.django_db(transaction=True)
def test_signups_from_one_address_are_limited(api, auth_stub, settings):
    # given
    settings.SIGNUP_MAX_PER_ADDRESS = 3
    # when: one address signs up again and again, over REST and gRPC
    first = [_signup(api, n).status_code for n in range(3)]
    over = _signup(api, 3)
    with pytest.raises(grpc.RpcError) as refused:
        email = f"bulk-grpc-{uuid.uuid4().hex[:8]}@example.com"
        auth_stub.SignUp(auth_pb2.UserCreateRequest(name="Bulk", email=email, password=PASSWORD))
    elsewhere = _signup(api, 4, REMOTE_ADDR="203.0.113.9")
    # then: the fourth is refused (429, Retry-After up to the window) on both transports, and
    # nothing is stored for it; another address still signs up
    assert first == [201, 201, 201]
    assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
    assert 0 < int(over["Retry-After"]) <= settings.SIGNUP_WINDOW_SECONDS
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert elsewhere.status_code == 201
    assert User.objects.filter(email__startswith="bulk").count() == 4
