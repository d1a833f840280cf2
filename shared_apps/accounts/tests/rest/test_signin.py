"""POST /v1/auth/signin."""

from __future__ import annotations

import pytest

from shared_apps.accounts.models import Session
from shared_apps.accounts.tests.factories import PASSWORD
from shared_apps.authn.verify import access_token_verify

pytestmark = pytest.mark.django_db
URL = "/v1/auth/signin"


def test_signin_opens_a_session(api, user):
    # when
    response = api.post(URL, {"email": user.email.upper(), "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == str(user.id)
    principal = access_token_verify(body["tokens"]["access_token"])
    assert principal.user_id == user.id
    assert Session.objects.get(id=principal.session_id).user_id == user.id


def test_wrong_password_and_unknown_user_answer_the_same(api, user):
    # when
    wrong = api.post(URL, {"email": user.email, "password": "nope-nope-1"}, format="json")
    unknown = api.post(URL, {"email": "ghost@example.com", "password": "nope-nope-1"}, format="json")
    # then
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "unauthenticated"
    assert not Session.objects.exists()


def test_inactive_user_cannot_sign_in(api, user):
    # given
    user.is_active = False
    user.save()
    # when
    response = api.post(URL, {"email": user.email, "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 401


def test_signin_missing_fields_is_400(api):
    # when
    response = api.post(URL, {"email": "a@example.com"}, format="json")
    # then
    assert response.status_code == 400
    assert "password" in response.json()["error"]["details"]
