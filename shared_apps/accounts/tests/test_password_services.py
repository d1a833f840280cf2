"""Password change and reset at the service layer: who ends which sessions, and every way a reset
token can be wrong (reused, expired, another account's, malformed, of another kind)."""

from __future__ import annotations

import pytest
from django.utils.http import urlsafe_base64_encode

from shared_apps.accounts import services
from shared_apps.accounts.emails import email_verification_tokens, link_token_make, password_reset_tokens
from shared_apps.accounts.models import Session, User
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.authn.verify import access_token_claims, access_token_verify, principal_from_claims
from shared_apps.core.errors import NotAuthenticated, RateLimited, ValidationFailed

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-Brand-new-passphrase-42"


def _sign_in(user, password: str = PASSWORD):
    return services.user_signin(email=user.email, password=password).tokens


def _principal(tokens):
    return principal_from_claims(access_token_claims(tokens.access_token))


def _live(tokens) -> bool:
    try:
        access_token_verify(tokens.access_token)
    except NotAuthenticated:
        return False
    return True


def _reset_token(user) -> str:
    return link_token_make(user=user, generator=password_reset_tokens)


# --- change ---------------------------------------------------------------------------------


def test_change_ends_every_other_session_and_keeps_the_current_one(user):
    # given: three devices
    current, *others = (_sign_in(user) for _ in range(3))
    # when
    ended = services.user_password_change(
        caller=_principal(current), current_password=PASSWORD, new_password=NEW_PASSWORD
    )
    # then
    assert ended == 2
    assert _live(current)
    assert not any(_live(t) for t in others)
    assert {Session.objects.get(id=t.session_id).revoke_reason for t in others} == {"password_changed"}
    assert _sign_in(user, NEW_PASSWORD).access_token
    with pytest.raises(NotAuthenticated):
        _sign_in(user, PASSWORD)


def test_change_with_a_wrong_current_password_changes_nothing(user):
    # given
    current, other = _sign_in(user), _sign_in(user)
    # when
    with pytest.raises(ValidationFailed) as caught:
        services.user_password_change(
            caller=_principal(current), current_password="not-" + PASSWORD, new_password=NEW_PASSWORD
        )
    # then: 400 on current_password, and nothing changed
    assert caught.value.http_status == 400
    assert caught.value.message.startswith("current_password:")
    assert list(caught.value.details) == ["current_password"]
    assert _live(current) and _live(other)
    assert User.objects.get(id=user.id).check_password(PASSWORD)


def test_wrong_current_passwords_count_as_failed_sign_ins(user, settings):
    # given: a stolen access token, used to guess the password
    settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT = 3
    caller = _principal(_sign_in(user))
    for n in range(3):
        with pytest.raises(ValidationFailed):
            services.user_password_change(caller=caller, current_password=f"guess-{n}", new_password=NEW_PASSWORD)
    # when: the right password, once locked out
    with pytest.raises(RateLimited):
        services.user_password_change(caller=caller, current_password=PASSWORD, new_password=NEW_PASSWORD)
    # then
    assert User.objects.get(id=user.id).check_password(PASSWORD)


@pytest.mark.parametrize("new_password", ["short", "password123", "", "p" * 300])
def test_change_to_a_password_the_validators_refuse(user, new_password):
    # given
    caller = _principal(_sign_in(user))
    # when
    with pytest.raises(ValidationFailed) as caught:
        services.user_password_change(caller=caller, current_password=PASSWORD, new_password=new_password)
    # then
    assert caught.value.message.startswith("new_password:")
    assert User.objects.get(id=user.id).check_password(PASSWORD)


# --- reset ----------------------------------------------------------------------------------


def test_reset_confirm_sets_the_password_ends_every_session_and_verifies_the_address(user):
    # given
    sessions = [_sign_in(user) for _ in range(2)]
    # when
    ended = services.password_reset_confirm(token=_reset_token(user), new_password=NEW_PASSWORD)
    # then
    assert ended == 2
    assert not any(_live(t) for t in sessions)
    assert {Session.objects.get(id=t.session_id).revoke_reason for t in sessions} == {"password_reset"}
    refreshed = User.objects.get(id=user.id)
    assert refreshed.check_password(NEW_PASSWORD) and refreshed.email_verified


def _refused(token: str, new_password: str = NEW_PASSWORD) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        services.password_reset_confirm(token=token, new_password=new_password)
    assert caught.value.http_status == 400
    assert caught.value.message.startswith("token:")
    return caught.value


def test_a_reset_token_works_once(user):
    # given: a token already used
    token = _reset_token(user)
    services.password_reset_confirm(token=token, new_password=NEW_PASSWORD)
    # when / then
    _refused(token, "yet-Another-passphrase-7")
    assert User.objects.get(id=user.id).check_password(NEW_PASSWORD)


def test_an_expired_reset_token_is_refused(user, settings):
    # given: a token issued one second more than PASSWORD_RESET_TTL ago
    settings.PASSWORD_RESET_TTL = 600
    link_uid = _reset_token(user).split(".")[0]
    expired = f"{link_uid}.{password_reset_tokens.make_token_issued(user, seconds_ago=601)}"
    fresh = f"{link_uid}.{password_reset_tokens.make_token_issued(user, seconds_ago=599)}"
    # when / then
    _refused(expired)
    assert User.objects.get(id=user.id).check_password(PASSWORD)
    services.password_reset_confirm(token=fresh, new_password=NEW_PASSWORD)  # the same age less two seconds works


def test_a_reset_token_does_not_work_for_another_account(user):
    # given: the victim's id spliced onto the attacker's own valid token
    attacker = UserFactory()
    _uid, attacker_token = _reset_token(attacker).split(".")
    tampered = f"{urlsafe_base64_encode(str(user.id).encode())}.{attacker_token}"
    # when / then
    _refused(tampered)
    assert User.objects.get(id=user.id).check_password(PASSWORD)
    assert User.objects.get(id=attacker.id).check_password(PASSWORD)


def test_a_verification_token_is_not_a_reset_token(user):
    # when / then: same form, another key, another kind
    _refused(link_token_make(user=user, generator=email_verification_tokens))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b.c",
        "no-dot-at-all-1234-abcdef",
        "bm90LWEtdXVpZA.cdefgh-0123456789abcdef",  # uid "not-a-uuid"
        "!!!.abc-def",
        "x" * 5000,
        "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw.zzzzzzzzzzzzzz-00",  # unknown user, bad timestamp
        "nul\x00.abc-def",
    ],
)
def test_a_malformed_reset_token_is_400(user, token):
    _refused(token)


def test_reset_of_a_deactivated_account_is_refused(user):
    # given
    token = _reset_token(user)
    services.user_deactivate(user=user)
    # when / then
    _refused(token)


def test_a_weak_new_password_leaves_the_token_usable(user):
    # given
    token = _reset_token(user)
    # when
    with pytest.raises(ValidationFailed) as caught:
        services.password_reset_confirm(token=token, new_password="123")
    # then: the person can try again with the same link
    assert caught.value.message.startswith("new_password:")
    services.password_reset_confirm(token=token, new_password=NEW_PASSWORD)
    assert User.objects.get(id=user.id).check_password(NEW_PASSWORD)


# --- reset requests: answers and throttles ------------------------------------------------------


def test_reset_request_for_an_unknown_address_sends_nothing(smtp_inbox):
    # when: no error, as for a known address
    services.password_reset_request(email="nobody@example.com")
    # then
    smtp_inbox.settle()
    assert smtp_inbox.received == []


def test_reset_request_for_an_account_without_a_usable_password_sends_nothing(smtp_inbox):
    # given: staff disabled password sign-in for this account
    user = UserFactory()
    user.set_unusable_password()
    user.save()
    # when
    services.password_reset_request(email=user.email)
    # then
    smtp_inbox.settle()
    assert smtp_inbox.received == []


@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown"])
def test_reset_requests_are_throttled_per_address_asked_for(settings, known):
    # given
    settings.ACCOUNT_EMAILS_PER_ACCOUNT = 2
    email = UserFactory().email if known else "ghost@example.com"
    for _ in range(2):
        services.password_reset_request(email=email)
    # when / then: the same refusal whether or not the account exists
    with pytest.raises(RateLimited) as caught:
        services.password_reset_request(email=email.upper())
    assert caught.value.retry_after > 0
    services.password_reset_request(email="someone-else@example.com")  # others are not affected


def test_reset_requests_are_throttled_per_client_address(settings):
    # given
    settings.ACCOUNT_EMAILS_PER_IP = 3
    client = services.ClientInfo(ip_address="203.0.113.9")
    for n in range(3):
        services.password_reset_request(email=f"spray{n}@example.com", client=client)
    # when / then
    with pytest.raises(RateLimited):
        services.password_reset_request(email="spray-more@example.com", client=client)
    services.password_reset_request(
        email="spray-more@example.com", client=services.ClientInfo(ip_address="203.0.113.10")
    )
