"""POST /v1/auth/refresh: rotation and reuse detection."""

from __future__ import annotations

import pytest

from shared_apps.accounts.models import Session
from shared_apps.accounts.tests.conftest import bearer

pytestmark = pytest.mark.django_db
URL = "/v1/auth/refresh"


def test_refresh_rotates_the_pair(api, signed_in):
    # given
    _user, tokens = signed_in
    # when
    response = api.post(URL, {"refresh_token": tokens.refresh_token}, format="json")
    # then
    assert response.status_code == 200
    new = response.json()["tokens"]
    assert new["access_token"] != tokens.access_token
    assert new["refresh_token"] != tokens.refresh_token
    assert api.post("/v1/auth/validate", {"token": new["access_token"]}, format="json").json()["valid"] is True


def test_reused_refresh_token_ends_the_whole_session(api, signed_in):
    # given
    _user, tokens = signed_in
    new = api.post(URL, {"refresh_token": tokens.refresh_token}, format="json").json()["tokens"]
    # when
    reuse = api.post(URL, {"refresh_token": tokens.refresh_token}, format="json")
    # then
    assert reuse.status_code == 401
    assert Session.objects.get(id=tokens.session_id).revoke_reason == Session.EndReason.REFRESH_REUSE
    assert api.post(URL, {"refresh_token": new["refresh_token"]}, format="json").status_code == 401
    assert api.get("/v1/users", **bearer(new["access_token"])).status_code == 401
    assert api.post("/v1/auth/validate", {"token": new["access_token"]}, format="json").json()["valid"] is False


def test_access_token_is_not_a_refresh_token(api, signed_in):
    # given
    _user, tokens = signed_in
    # when
    response = api.post(URL, {"refresh_token": tokens.access_token}, format="json")
    # then
    assert response.status_code == 401
    assert Session.objects.get(id=tokens.session_id).revoked_at is None


def test_refresh_token_is_not_an_access_token(api, signed_in):
    # given
    _user, tokens = signed_in
    # when
    response = api.post("/v1/auth/signout", **bearer(tokens.refresh_token))
    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert api.post("/v1/auth/validate", {"token": tokens.refresh_token}, format="json").json()["valid"] is False


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}], ids=["missing", "blank"])
def test_refresh_without_token_is_401_like_the_seed(api, body):
    # when
    response = api.post(URL, body, format="json")
    # then: a missing credential, not a malformed request
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.json()["error"]["message"] == "A refresh token is required."


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
def test_malformed_refresh_token_is_rejected(api, token):
    # when
    response = api.post(URL, {"refresh_token": token}, format="json")
    # then
    assert response.status_code in (400, 401)
    assert "error" in response.json()
