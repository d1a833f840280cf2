"""Look-alike email addresses: NFKC-normalised, and an address mixing scripts within its local
part or a domain label is refused at sign-up (REST 400, gRPC INVALID_ARGUMENT, the admin's
form), so it cannot become a second account that reads like someone else's. Existing accounts
keep signing in."""

from __future__ import annotations

import importlib

import grpc
import pytest
from django.apps import apps

from protos import auth_pb2
from shared_apps.accounts.models import User
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
SIGNUP, SIGNIN = "/v1/auth/signup", "/v1/auth/signin"
VICTIM = "victim@example.com"
CYRILLIC_A = "\u0430"  # а
GREEK_O = "\u03bf"  # ο


def _signup(api, email: str):
    return api.post(SIGNUP, {"name": "X", "email": email, "password": PASSWORD}, format="json")


@pytest.mark.parametrize(
    "lookalike",
    [
        f"victim@ex{CYRILLIC_A}mple.com",  # Cyrillic а among Latin letters in the domain
        f"victim@example.c{GREEK_O}m",  # Greek ο in the top-level label
        f"victim@{CYRILLIC_A}pple-example.com",
    ],
)
def test_a_lookalike_address_is_refused_naming_the_field(api, lookalike):
    # given: the victim's account
    assert _signup(api, VICTIM).status_code == 201
    # when: someone signs up with an address that reads the same
    response = _signup(api, lookalike)
    # then: 400 naming the email field, and no second account
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert error["message"].startswith("email:")
    assert "mixes scripts" in error["details"]["email"][0]
    assert list(User.objects.values_list("email", flat=True)) == [VICTIM]


def test_a_compatibility_spelling_is_the_same_account(api):
    # given
    assert _signup(api, VICTIM).status_code == 201
    fullwidth = "victim@\uff45xample.com"  # full-width e: NFKC makes it example.com
    # when
    again = _signup(api, fullwidth)
    signin = api.post(SIGNIN, {"email": fullwidth, "password": PASSWORD}, format="json")
    # then: not a second account; the owner signs in with either spelling
    assert again.status_code == 409
    assert signin.status_code == 200
    assert signin.json()["user"]["email"] == VICTIM
    assert User.objects.count() == 1


@pytest.mark.parametrize("email", ["user@почта.рф", "user@почта.com", "taro@example.jp", "a.b-c+1@x.io"])
def test_single_script_addresses_are_welcome(api, email):
    assert _signup(api, email).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_grpc_signup_of_a_lookalike_is_invalid_argument(auth_stub):
    # given
    auth_stub.SignUp(auth_pb2.UserCreateRequest(name="V", email=VICTIM, password=PASSWORD))
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.SignUp(
            auth_pb2.UserCreateRequest(name="M", email=f"victim@ex{CYRILLIC_A}mple.com", password=PASSWORD)
        )
    # then
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith("email:")
    assert User.objects.count() == 1


def test_the_admin_refuses_a_lookalike_too(admin_client):
    # when
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": f"staff@ex{CYRILLIC_A}mple.com",
            "name": "M",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
        },
    )
    # then: the form is shown again with the error; no account
    assert response.status_code == 200
    assert "mixes scripts" in response.content.decode()
    assert not User.objects.filter(email__startswith="staff@").exists()


def test_an_existing_mixed_script_account_keeps_signing_in(api):
    # given: an account created before the rule (stored as it was)
    user = UserFactory()
    legacy = f"old@ex{CYRILLIC_A}mple.com"
    User.objects.filter(id=user.id).update(email=legacy)
    # when
    response = api.post(SIGNIN, {"email": legacy, "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 200


def test_stored_addresses_are_normalised_by_the_migration(api):
    # given: addresses stored before NFKC (full-width letters), one of them clashing with another account
    migration = importlib.import_module("shared_apps.accounts.migrations.0002_email_nfkc")
    legacy, clash = UserFactory(), UserFactory()
    User.objects.filter(id=legacy.id).update(email="\uff4fld@example.com")  # ｏld -> old
    UserFactory(email="taken@example.com")
    User.objects.filter(id=clash.id).update(email="\uff54aken@example.com")  # ｔaken -> taken: held already
    # when
    migration.emails_normalize(apps, None)
    # then: the first is stored normalised and signs in with either spelling; the clash is left alone
    assert User.objects.get(id=legacy.id).email == "old@example.com"
    for spelling in ("old@example.com", "\uff4fld@example.com"):
        assert api.post(SIGNIN, {"email": spelling, "password": PASSWORD}, format="json").status_code == 200
    assert User.objects.get(id=clash.id).email == "\uff54aken@example.com"
