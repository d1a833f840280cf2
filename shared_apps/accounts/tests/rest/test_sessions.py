"""REST: GET /v1/auth/sessions and DELETE /v1/auth/sessions/{id}; and that every way this issue
ends sessions (ending one, changing the password, resetting it) reaches the chat side's
revocation feed within a second."""

from __future__ import annotations

import time
import uuid

import pytest
from rest_framework.test import APIClient

from shared_apps.accounts import services
from shared_apps.accounts.tests.conftest import bearer
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.authn.revocation import RevocationFeed

NEW_PASSWORD = "a-Brand-new-passphrase-42"


def _signin(api, email: str, agent: str = "") -> dict:
    response = api.post("/v1/auth/signin", {"email": email, "password": PASSWORD}, format="json", HTTP_USER_AGENT=agent)
    assert response.status_code == 200, response.content
    return response.json()["tokens"]


def _session_id(tokens: dict) -> str:
    return services.token_validate(token=tokens["access_token"]).session_id


@pytest.mark.django_db
def test_the_list_shows_the_callers_live_sessions(api, user):
    # given
    laptop = _signin(api, user.email, agent="laptop")
    phone = _signin(api, user.email, agent="phone")
    _signin(api, UserFactory().email)
    # when
    response = api.get("/v1/auth/sessions", **bearer(phone["access_token"]))
    # then
    assert response.status_code == 200
    sessions = response.json()["sessions"]
    assert [(s["id"], s["user_agent"], s["current"]) for s in sessions] == [
        (_session_id(phone), "phone", True),
        (_session_id(laptop), "laptop", False),
    ]
    assert set(sessions[0]) == {"id", "created_at", "last_used_at", "ip", "user_agent", "current"}
    assert sessions[0]["ip"] == "127.0.0.1"


@pytest.mark.django_db
def test_the_list_needs_a_bearer_token(api):
    assert api.get("/v1/auth/sessions").status_code == 401


@pytest.mark.django_db
def test_ending_a_session_answers_204_and_its_tokens_stop(api, user):
    # given
    current, other = _signin(api, user.email), _signin(api, user.email)
    # when
    response = api.delete(f"/v1/auth/sessions/{_session_id(other)}", **bearer(current["access_token"]))
    # then
    assert response.status_code == 204
    assert api.get("/v1/auth/sessions", **bearer(other["access_token"])).status_code == 401
    assert api.post("/v1/auth/refresh", {"refresh_token": other["refresh_token"]}, format="json").status_code == 401
    listed = api.get("/v1/auth/sessions", **bearer(current["access_token"])).json()["sessions"]
    assert [s["id"] for s in listed] == [_session_id(current)]


@pytest.mark.django_db
def test_ending_the_current_session_signs_out(api, user):
    # given
    tokens = _signin(api, user.email)
    # when
    response = api.delete(f"/v1/auth/sessions/{_session_id(tokens)}", **bearer(tokens["access_token"]))
    # then
    assert response.status_code == 204
    assert api.get("/v1/auth/sessions", **bearer(tokens["access_token"])).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize("whose", ["another user's", "unknown"])
def test_a_session_that_is_not_the_callers_is_404(api, user, whose):
    # given
    caller = _signin(api, user.email)
    victim = _signin(api, UserFactory().email)
    session_id = _session_id(victim) if whose == "another user's" else str(uuid.uuid4())
    # when
    response = api.delete(f"/v1/auth/sessions/{session_id}", **bearer(caller["access_token"]))
    # then: the same answer as for a session that does not exist, and the victim's session lives
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert api.get("/v1/auth/sessions", **bearer(victim["access_token"])).status_code == 200


@pytest.mark.django_db
def test_a_session_id_that_is_no_uuid_is_400(api, user):
    tokens = _signin(api, user.email)
    response = api.delete("/v1/auth/sessions/not-a-uuid", **bearer(tokens["access_token"]))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"


def _end_one(api, user, current, other, smtp_inbox) -> None:
    assert api.delete(f"/v1/auth/sessions/{_session_id(other)}", **bearer(current["access_token"])).status_code == 204


def _change(api, user, current, other, smtp_inbox) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (
        api.post("/v1/auth/password/change", body, format="json", **bearer(current["access_token"])).status_code == 200
    )


def _reset(api, user, current, other, smtp_inbox) -> None:
    assert api.post("/v1/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    body = {"token": smtp_inbox.token_for(user.email), "new_password": NEW_PASSWORD}
    assert api.post("/v1/auth/password/reset/confirm", body, format="json").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "how, current_survives", [(_end_one, True), (_change, True), (_reset, False)], ids=["end", "change", "reset"]
)
def test_ended_sessions_are_refused_by_the_chat_side_within_a_second(
    auth_grpc_target, smtp_inbox, how, current_survives
):
    # given: two sessions, and the chat side's revocation-feed client on the real gRPC server
    api = APIClient()
    user = UserFactory()
    current, other = _signin(api, user.email), _signin(api, user.email)
    current_id, other_id = _session_id(current), _session_id(other)
    feed = RevocationFeed(auth_grpc_target, poll_seconds=0.05, max_staleness=5.0, forget_after=600)
    try:
        assert not feed.is_revoked(current_id) and not feed.is_revoked(other_id)
        # when
        how(api, user, current, other, smtp_inbox)
        ended_at = time.monotonic()
        # then
        while not feed.is_revoked(other_id) and time.monotonic() - ended_at < 1.0:
            time.sleep(0.02)
        assert feed.is_revoked(other_id)
        time.sleep(0.2)  # a few more polls
        assert feed.is_revoked(current_id) is not current_survives
    finally:
        feed.stop()
