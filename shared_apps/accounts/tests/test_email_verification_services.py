"""Email verification and a user's own sessions at the service layer."""

from __future__ import annotations

import uuid

import pytest

from shared_apps.accounts import selectors, services
from shared_apps.accounts.emails import email_verification_tokens, link_token_make, password_reset_tokens
from shared_apps.accounts.models import Session, User
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.authn.verify import access_token_claims, access_token_verify, principal_from_claims
from shared_apps.core.errors import EmailNotVerified, NotAuthenticated, NotFound, RateLimited, ValidationFailed

pytestmark = pytest.mark.django_db


def _principal(tokens):
    return principal_from_claims(access_token_claims(tokens.access_token))


def _verification_token(user) -> str:
    return link_token_make(user=user, generator=email_verification_tokens)


def test_a_new_account_is_unverified_and_gets_a_link(smtp_inbox):
    # when
    result = services.user_create(name="Ada", email="ada@example.com", password=PASSWORD)
    # then
    assert result.user.email_verified is False
    received = smtp_inbox.wait_for("ada@example.com")[0]
    assert received.message["Subject"] == "Verify your email address"
    assert received.link.startswith("http://127.0.0.1:8081/account/email/verify?token=")


def test_the_link_verifies_and_following_it_again_is_harmless():
    # given
    user = UserFactory()
    token = _verification_token(user)
    # when
    services.user_email_verify(token=token)
    services.user_email_verify(token=token)
    # then
    assert User.objects.get(id=user.id).email_verified


def test_a_link_sent_to_an_address_the_account_no_longer_has_is_refused():
    # given: the link went to the old address
    user = UserFactory()
    token = _verification_token(user)
    User.objects.filter(id=user.id).update(email="new-address@example.com")
    # when
    with pytest.raises(ValidationFailed) as caught:
        services.user_email_verify(token=token)
    # then
    assert caught.value.message.startswith("token:")
    assert not User.objects.get(id=user.id).email_verified


@pytest.mark.parametrize("kind", ["reset", "expired", "junk"])
def test_what_is_not_a_live_verification_token_is_refused(settings, kind):
    # given
    user = UserFactory()
    uid = _verification_token(user).split(".")[0]
    too_old = settings.EMAIL_VERIFICATION_TTL + 1
    token = {
        "reset": link_token_make(user=user, generator=password_reset_tokens),
        "expired": f"{uid}.{email_verification_tokens.make_token_issued(user, seconds_ago=too_old)}",
        "junk": "not-a-token",
    }[kind]
    # when / then
    with pytest.raises(ValidationFailed):
        services.user_email_verify(token=token)
    assert not User.objects.get(id=user.id).email_verified


def test_resend_sends_a_new_link_within_the_budget(smtp_inbox, settings):
    # given: sign-up sent the first link
    settings.ACCOUNT_EMAILS_PER_ACCOUNT = 3
    result = services.user_create(name="B", email="bea@example.com", password=PASSWORD)
    caller = _principal(result.tokens)
    # when: two resends fit in the budget of three, the third does not
    services.user_verification_resend(caller=caller)
    services.user_verification_resend(caller=caller)
    with pytest.raises(RateLimited):
        services.user_verification_resend(caller=caller)
    # then: three emails, each link verifies
    received = smtp_inbox.wait_for("bea@example.com", count=3)
    services.user_email_verify(token=received[-1].token)
    assert User.objects.get(email="bea@example.com").email_verified


def test_resend_for_a_verified_address_sends_nothing(smtp_inbox):
    # given
    user = UserFactory(email_verified=True)
    tokens = services.user_signin(email=user.email, password=PASSWORD).tokens
    # when
    sent = services.user_verification_resend(caller=_principal(tokens))
    # then
    assert sent is False
    smtp_inbox.settle()
    assert smtp_inbox.to(user.email) == []


def test_with_verification_required_an_unverified_account_cannot_sign_in_and_gets_a_new_link(settings, smtp_inbox):
    # given
    settings.AUTH_REQUIRE_VERIFIED_EMAIL = True
    user = UserFactory()
    # when
    with pytest.raises(EmailNotVerified) as caught:
        services.user_signin(email=user.email, password=PASSWORD)
    # then: 403 email_not_verified, no session, and a link to verify with
    assert (caught.value.http_status, caught.value.code) == (403, "email_not_verified")
    assert not Session.objects.filter(user=user).exists()
    services.user_email_verify(token=smtp_inbox.token_for(user.email))
    assert services.user_signin(email=user.email, password=PASSWORD).tokens.access_token


def test_with_verification_required_a_wrong_password_still_says_only_bad_credentials(settings, smtp_inbox):
    # given
    settings.AUTH_REQUIRE_VERIFIED_EMAIL = True
    user = UserFactory()
    # when / then: whether the address is verified is told only to someone who knows the password
    with pytest.raises(NotAuthenticated):
        services.user_signin(email=user.email, password="wrong-" + PASSWORD)
    smtp_inbox.settle()
    assert smtp_inbox.to(user.email) == []


def test_with_verification_required_an_unverified_session_cannot_refresh(settings):
    # given: a session from before the requirement was turned on
    user = UserFactory()
    tokens = services.user_signin(email=user.email, password=PASSWORD).tokens
    settings.AUTH_REQUIRE_VERIFIED_EMAIL = True
    # when / then
    with pytest.raises(EmailNotVerified):
        services.session_refresh(refresh_token=tokens.refresh_token)


def test_without_the_requirement_an_unverified_account_signs_in():
    user = UserFactory()
    assert services.user_signin(email=user.email, password=PASSWORD).user.email_verified is False


# --- the caller's sessions ----------------------------------------------------------------------


def test_the_session_list_shows_the_callers_live_sessions_and_which_is_current(user):
    # given
    older = services.user_signin(
        email=user.email, password=PASSWORD, client=services.ClientInfo(ip_address="198.51.100.7", user_agent="phone")
    ).tokens
    ended = services.user_signin(email=user.email, password=PASSWORD).tokens
    services.session_end(session_id=ended.session_id, reason=Session.EndReason.SIGNOUT)
    current = services.user_signin(email=user.email, password=PASSWORD).tokens
    services.user_signin(email=UserFactory().email, password=PASSWORD)  # someone else's
    # when
    sessions = selectors.user_session_list(caller=_principal(current))
    # then
    assert [(s.id, s.current) for s in sessions] == [(current.session_id, True), (older.session_id, False)]
    assert (sessions[1].ip, sessions[1].user_agent) == ("198.51.100.7", "phone")
    assert sessions[1].last_used_at == sessions[1].created_at


def test_last_used_at_is_the_last_refresh(user):
    # given
    tokens = services.user_signin(email=user.email, password=PASSWORD).tokens
    refreshed = services.session_refresh(refresh_token=tokens.refresh_token)
    # when
    (session,) = selectors.user_session_list(caller=_principal(refreshed))
    # then
    assert session.last_used_at == Session.objects.get(id=tokens.session_id).last_refreshed_at
    assert session.last_used_at > session.created_at


def test_ending_an_own_session(user):
    # given
    current, other = (services.user_signin(email=user.email, password=PASSWORD).tokens for _ in "ab")
    # when
    services.user_session_end(caller=_principal(current), session_id=str(other.session_id))
    # then
    assert Session.objects.get(id=other.session_id).revoke_reason == "user_ended"
    with pytest.raises(NotAuthenticated):
        access_token_verify(other.access_token)
    assert access_token_verify(current.access_token)


@pytest.mark.parametrize("whose", ["another user's", "unknown"])
def test_a_session_that_is_not_the_callers_is_not_found(user, whose):
    # given
    caller = _principal(services.user_signin(email=user.email, password=PASSWORD).tokens)
    victim = services.user_signin(email=UserFactory().email, password=PASSWORD).tokens
    session_id = str(victim.session_id) if whose == "another user's" else str(uuid.uuid4())
    # when
    with pytest.raises(NotFound):
        services.user_session_end(caller=caller, session_id=session_id)
    # then
    assert access_token_verify(victim.access_token)


def test_a_session_id_that_is_no_uuid_is_400(user):
    caller = _principal(services.user_signin(email=user.email, password=PASSWORD).tokens)
    with pytest.raises(ValidationFailed):
        services.user_session_end(caller=caller, session_id="not-a-uuid")
