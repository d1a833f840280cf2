"""REST: /v1/auth/password/{change,reset,reset/confirm} and /v1/auth/email/verify[/resend], with the
emails going through a real SMTP server on loopback."""

from __future__ import annotations

import time

import pytest

from shared_apps.accounts.tests.conftest import bearer
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-Brand-new-passphrase-42"


def _signin(api, email: str, password: str = PASSWORD):
    return api.post("/v1/auth/signin", {"email": email, "password": password}, format="json")


def _tokens(api, email: str, password: str = PASSWORD) -> dict:
    response = _signin(api, email, password)
    assert response.status_code == 200, response.content
    return response.json()["tokens"]


def _works(api, access_token: str) -> bool:
    response = api.get("/v1/auth/sessions", **bearer(access_token))
    assert response.status_code in (200, 401), response.content
    return response.status_code == 200


# --- email verification -------------------------------------------------------------------------


def test_signup_sends_a_link_that_verifies_the_address(api, smtp_inbox):
    # given
    signup = api.post(
        "/v1/auth/signup", {"name": "Ada", "email": "ada@example.com", "password": PASSWORD}, format="json"
    )
    assert signup.json()["user"]["email_verified"] is False
    token = smtp_inbox.token_for("ada@example.com")
    # when
    response = api.post("/v1/auth/email/verify", {"token": token}, format="json")
    # then
    assert (response.status_code, response.json()) == (200, {})
    assert _signin(api, "ada@example.com").json()["user"]["email_verified"] is True


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 5000])
def test_verify_with_a_bad_token_is_400(api, token):
    # when
    response = api.post("/v1/auth/email/verify", {"token": token}, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"


def test_resend_sends_a_new_link(api, smtp_inbox):
    # given
    user = UserFactory()
    tokens = _tokens(api, user.email)
    # when
    response = api.post("/v1/auth/email/verify/resend", **bearer(tokens["access_token"]))
    # then
    assert (response.status_code, response.json()) == (202, {})
    token = smtp_inbox.token_for(user.email)
    assert api.post("/v1/auth/email/verify", {"token": token}, format="json").status_code == 200


def test_resend_needs_a_bearer_token(api):
    assert api.post("/v1/auth/email/verify/resend").status_code == 401


def test_resend_is_throttled(api, smtp_inbox, settings):
    # given
    settings.ACCOUNT_EMAILS_PER_ACCOUNT = 1
    user = UserFactory()
    tokens = _tokens(api, user.email)
    assert api.post("/v1/auth/email/verify/resend", **bearer(tokens["access_token"])).status_code == 202
    # when
    response = api.post("/v1/auth/email/verify/resend", **bearer(tokens["access_token"]))
    # then
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert len(smtp_inbox.wait_for(user.email)) == 1


def test_signin_of_an_unverified_account_is_403_when_verification_is_required(api, settings, smtp_inbox):
    # given
    settings.AUTH_REQUIRE_VERIFIED_EMAIL = True
    user = UserFactory()
    # when
    response = _signin(api, user.email)
    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "email_not_verified"
    assert "tokens" not in response.json()
    # and: the link that came with it lets the owner in
    api.post("/v1/auth/email/verify", {"token": smtp_inbox.token_for(user.email)}, format="json")
    assert _signin(api, user.email).status_code == 200


# --- password change ----------------------------------------------------------------------------


def test_change_ends_the_other_sessions_only(api, user):
    # given
    current, other = _tokens(api, user.email), _tokens(api, user.email)
    # when
    response = api.post(
        "/v1/auth/password/change",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        **bearer(current["access_token"]),
    )
    # then
    assert (response.status_code, response.json()) == (200, {})
    assert _works(api, current["access_token"])
    assert not _works(api, other["access_token"])
    assert api.post("/v1/auth/refresh", {"refresh_token": other["refresh_token"]}, format="json").status_code == 401
    assert _signin(api, user.email, NEW_PASSWORD).status_code == 200
    assert _signin(api, user.email, PASSWORD).status_code == 401


def test_change_with_a_wrong_current_password_is_400(api, user):
    # given
    tokens = _tokens(api, user.email)
    # when
    response = api.post(
        "/v1/auth/password/change",
        {"current_password": "wrong-" + PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        **bearer(tokens["access_token"]),
    )
    # then: a mistake in the form, not a bad token (a 401 would make clients sign out)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"
    assert "current_password" in response.json()["error"]["details"]
    assert _works(api, tokens["access_token"])
    assert _signin(api, user.email, PASSWORD).status_code == 200


def test_change_needs_a_bearer_token(api):
    response = api.post(
        "/v1/auth/password/change", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 401


# --- password reset -----------------------------------------------------------------------------


def test_reset_by_email_ends_every_session(api, user, smtp_inbox):
    # given: two sessions, and a reset requested
    sessions = [_tokens(api, user.email) for _ in range(2)]
    requested = api.post("/v1/auth/password/reset", {"email": user.email.upper()}, format="json")
    assert (requested.status_code, requested.json()) == (202, {})
    received = smtp_inbox.wait_for(user.email)[0]
    assert received.message["Subject"] == "Reset your Chat AI password"
    assert received.link.startswith("http://127.0.0.1:8081/account/password/reset?token=")
    # when
    response = api.post(
        "/v1/auth/password/reset/confirm", {"token": received.token, "new_password": NEW_PASSWORD}, format="json"
    )
    # then
    assert (response.status_code, response.json()) == (200, {})
    assert not any(_works(api, t["access_token"]) for t in sessions)
    assert _signin(api, user.email, PASSWORD).status_code == 401
    assert _signin(api, user.email, NEW_PASSWORD).status_code == 200


def test_a_reused_reset_token_is_400(api, user, smtp_inbox):
    # given: the link was used once
    api.post("/v1/auth/password/reset", {"email": user.email}, format="json")
    token = smtp_inbox.token_for(user.email)
    first = api.post("/v1/auth/password/reset/confirm", {"token": token, "new_password": NEW_PASSWORD}, format="json")
    assert first.status_code == 200
    # when
    again = api.post(
        "/v1/auth/password/reset/confirm", {"token": token, "new_password": "attacker-Chosen-99"}, format="json"
    )
    # then
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "invalid_argument"
    assert list(again.json()["error"]["details"]) == ["token"]
    assert _signin(api, user.email, NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b", "Zm9v.1-2", "", "é" * 10])
def test_a_malformed_reset_token_is_400(api, user, token):
    # when
    response = api.post(
        "/v1/auth/password/reset/confirm", {"token": token, "new_password": NEW_PASSWORD}, format="json"
    )
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"
    assert _signin(api, user.email, PASSWORD).status_code == 200


def test_the_reset_answer_is_the_same_for_an_unknown_address_and_no_email_is_sent(api, user, smtp_inbox):
    # when
    known = api.post("/v1/auth/password/reset", {"email": user.email}, format="json")
    unknown = api.post("/v1/auth/password/reset", {"email": "ghost@example.com"}, format="json")
    # then
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, {})
    assert len(smtp_inbox.wait_for(user.email)) == 1
    smtp_inbox.settle()
    assert smtp_inbox.to("ghost@example.com") == []


def test_the_reset_answer_does_not_wait_for_the_mail_server(api, user, smtp_inbox):
    # given: a mail server that takes 2 s to accept a message
    smtp_inbox.delay = 2.0
    # when
    started = time.monotonic()
    response = api.post("/v1/auth/password/reset", {"email": user.email}, format="json")
    elapsed = time.monotonic() - started
    # then: answered as fast as for an unknown address (which sends nothing); the email still arrives
    assert response.status_code == 202
    assert elapsed < 1.0
    assert smtp_inbox.wait_for(user.email, timeout=10)


def test_reset_requests_are_throttled_per_address_asked_for(api, user, settings, smtp_inbox):
    # given
    settings.ACCOUNT_EMAILS_PER_ACCOUNT = 2
    for _ in range(2):
        assert api.post("/v1/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    # when
    response = api.post("/v1/auth/password/reset", {"email": user.email}, format="json")
    # then: the inbox gets two emails, not more
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert len(smtp_inbox.wait_for(user.email, count=2)) == 2
    smtp_inbox.settle()
    assert len(smtp_inbox.to(user.email)) == 2
