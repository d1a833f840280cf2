"""The REST auth flow end to end: sign up, sign in, refresh, sign out."""

from __future__ import annotations

import pytest

from shared_apps.accounts.models import Session
from shared_apps.accounts.tests.conftest import bearer
from shared_apps.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_returns_user_and_tokens(api):
    # when
    response = api.post(
        "/v1/auth/signup", {"name": "Ada", "email": "Ada@Example.com", "password": PASSWORD}, format="json"
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert set(body["user"]) == {"id", "name", "email", "created_at", "updated_at", "email_verified"}
    assert body["tokens"]["token_type"] == "Bearer"
    assert Session.objects.filter(user__email="ada@example.com", revoked_at__isnull=True).count() == 1


def test_signup_duplicate_email_is_409_case_insensitive(api, user):
    response = api.post(
        "/v1/auth/signup", {"name": "X", "email": user.email.upper(), "password": PASSWORD}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_exists"


def test_signin_refresh_signout(api, user):
    signin = api.post("/v1/auth/signin", {"email": user.email, "password": PASSWORD}, format="json")
    assert signin.status_code == 200
    tokens = signin.json()["tokens"]

    refreshed = api.post("/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refreshed.status_code == 200
    new = refreshed.json()["tokens"]
    assert new["access_token"] != tokens["access_token"]

    out = api.post("/v1/auth/signout", **bearer(new["access_token"]))
    assert out.status_code == 200
    after = api.post("/v1/auth/validate", {"token": new["access_token"]}, format="json")
    assert after.json()["valid"] is False


def test_wrong_password_and_unknown_user_answer_the_same(api, user):
    wrong = api.post("/v1/auth/signin", {"email": user.email, "password": "nope-nope-1"}, format="json")
    unknown = api.post("/v1/auth/signin", {"email": "ghost@example.com", "password": "nope-nope-1"}, format="json")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
