"""POST /v1/auth/signout and /v1/auth/revoke: the session's tokens stop working."""

from __future__ import annotations

import pytest

from shared_apps.accounts.models import Session
from shared_apps.accounts.tests.conftest import bearer
from shared_apps.accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _assert_session_dead(api, tokens) -> None:
    assert api.post("/v1/auth/validate", {"token": tokens.access_token}, format="json").json()["valid"] is False
    assert api.post("/v1/auth/signout", **bearer(tokens.access_token)).status_code == 401
    assert api.post("/v1/auth/refresh", {"refresh_token": tokens.refresh_token}, format="json").status_code == 401


def test_signout_ends_the_session(api, signed_in):
    # given
    _user, tokens = signed_in
    # when
    response = api.post("/v1/auth/signout", **bearer(tokens.access_token))
    # then: the seed's Empty message
    assert (response.status_code, response.json()) == (200, {})
    assert Session.objects.get(id=tokens.session_id).revoke_reason == Session.EndReason.SIGNOUT
    _assert_session_dead(api, tokens)


def test_signout_without_token_is_401(api):
    # when
    response = api.post("/v1/auth/signout")
    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_signout_leaves_other_sessions_alone(api, user, signed_in):
    # given
    _user, tokens = signed_in
    other = api.post("/v1/auth/signin", {"email": user.email, "password": PASSWORD}, format="json").json()["tokens"]
    # when
    api.post("/v1/auth/signout", **bearer(tokens.access_token))
    # then
    assert api.post("/v1/auth/validate", {"token": other["access_token"]}, format="json").json()["valid"] is True


def test_revoke_ends_the_session(api, signed_in):
    # given
    _user, tokens = signed_in
    # when
    response = api.post("/v1/auth/revoke", {"access_token": tokens.access_token}, format="json")
    # then: the seed's Empty message
    assert (response.status_code, response.json()) == (200, {})
    assert Session.objects.get(id=tokens.session_id).revoke_reason == Session.EndReason.REVOKED
    _assert_session_dead(api, tokens)


def test_revoke_with_invalid_token_is_401(api):
    # when
    response = api.post("/v1/auth/revoke", {"access_token": "nope"}, format="json")
    # then
    assert response.status_code == 401


@pytest.mark.parametrize("body", [{}, {"access_token": ""}], ids=["missing", "blank"])
def test_revoke_without_token_is_401_like_the_seed(api, body):
    # when
    response = api.post("/v1/auth/revoke", body, format="json")
    # then: a missing credential, not a malformed request
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.json()["error"]["message"] == "An access token is required."


def test_signout_with_the_token_in_the_body_like_the_seed(api, signed_in):
    # given
    _user, tokens = signed_in
    # when: no bearer header, the access token in the body
    response = api.post("/v1/auth/signout", {"access_token": tokens.access_token}, format="json")
    # then
    assert response.status_code == 200
    assert api.post("/v1/auth/validate", {"token": tokens.access_token}, format="json").json()["valid"] is False


def test_signout_of_someone_elses_token_is_refused(api, signed_in, staff):
    from shared_apps.accounts import services
    from shared_apps.accounts.tests.conftest import bearer
    from shared_apps.accounts.tests.factories import PASSWORD

    _user, tokens = signed_in
    other = services.user_signin(email=staff.email, password=PASSWORD).tokens
    response = api.post(
        "/v1/auth/signout", {"access_token": tokens.access_token}, format="json", **bearer(other.access_token)
    )
    assert response.status_code == 401
    assert api.post("/v1/auth/validate", {"token": tokens.access_token}, format="json").json()["valid"] is True
