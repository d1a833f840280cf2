"""POST /v1/auth/signup."""

from __future__ import annotations

import pytest

from shared_apps.accounts.models import Session, User
from shared_apps.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
URL = "/v1/auth/signup"


def test_signup_creates_user_session_and_tokens(api):
    # when
    response = api.post(URL, {"name": "Ada", "email": "Ada@Example.com", "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body["user"]) == {"id", "name", "email", "created_at", "updated_at", "email_verified"}
    assert body["user"]["email_verified"] is False
    assert body["user"]["email"] == "ada@example.com"
    assert set(body["tokens"]) == {
        "access_token",
        "refresh_token",
        "access_expires_at",
        "refresh_expires_at",
        "token_type",
    }
    assert body["tokens"]["token_type"] == "Bearer"
    user = User.objects.get(email="ada@example.com")
    assert user.password.startswith("argon2")
    assert Session.objects.filter(user=user, revoked_at__isnull=True).count() == 1


def test_signup_duplicate_email_is_409_case_insensitive(api, user):
    # when
    response = api.post(URL, {"name": "X", "email": f"  {user.email.upper()} ", "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_exists"
    assert User.objects.count() == 1


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@b.com", ""])
def test_signup_bad_email_is_400(api, email):
    # when
    response = api.post(URL, {"name": "X", "email": email, "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_argument"
    assert "email" in error["details"]
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901", "ada@example.com"])
def test_signup_weak_password_is_400(api, password):
    # when
    response = api.post(URL, {"name": "Ada", "email": "ada@example.com", "password": password}, format="json")
    # then
    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]
    assert not User.objects.exists()


def test_signup_ignores_mass_assigned_privileges(api):
    # given
    body = {"name": "M", "email": "m@example.com", "password": PASSWORD, "is_staff": True, "is_superuser": True}
    # when
    response = api.post(URL, body, format="json")
    # then
    assert response.status_code == 201
    user = User.objects.get(email="m@example.com")
    assert not user.is_staff
    assert not user.is_superuser


def test_signup_email_too_long_is_400(api):
    # when
    response = api.post(URL, {"name": "L", "email": "a" * 250 + "@example.com", "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 400
    assert not User.objects.exists()
