"""Two-factor sign-in (TOTP) at the service layer: setup, confirm, disable, the second step,
and the attacks on it (wrong, replayed and brute-forced codes, spent recovery codes and
mfa_tokens)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shared_apps.accounts import mfa, services
from shared_apps.accounts.models import MfaChallenge, RecoveryCode, TotpDevice
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.accounts.tests.mfa_support import totp_code, two_factor_on, wrong_code
from shared_apps.authn.verify import access_token_verify
from shared_apps.core.errors import AlreadyExists, NotAuthenticated, RateLimited, ValidationFailed

pytestmark = pytest.mark.django_db


def _step_one(user) -> mfa.MfaRequired:
    result = services.user_signin(email=user.email, password=PASSWORD)
    assert isinstance(result, mfa.MfaRequired)
    return result


def test_setup_is_not_active_until_confirmed():
    # given
    user = UserFactory()
    # when
    setup = mfa.totp_setup(user_id=user.id)
    # then: an otpauth URI for the app, and sign-in still takes the password alone
    assert setup.otpauth_uri.startswith("otpauth://totp/")
    assert f"secret={setup.secret}" in setup.otpauth_uri
    result = services.user_signin(email=user.email, password=PASSWORD)
    assert isinstance(result, services.AuthResult)


def test_the_secret_is_encrypted_at_rest_and_the_recovery_codes_hashed():
    # given
    user = UserFactory()
    # when
    two_factor = two_factor_on(user)
    # then
    device = TotpDevice.objects.get(user=user)
    assert two_factor.secret not in device.secret_encrypted
    hashes = list(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(two_factor.recovery_codes) == 10 and len(set(two_factor.recovery_codes)) == 10
    assert len(hashes) == 10
    for code in two_factor.recovery_codes:
        assert all(code not in h and code.replace("-", "") not in h for h in hashes)
    assert all(h.startswith("argon2") for h in hashes)


def test_confirm_with_a_wrong_code_leaves_it_off():
    # given
    user = UserFactory()
    setup = mfa.totp_setup(user_id=user.id)
    # when
    with pytest.raises(ValidationFailed) as caught:
        mfa.totp_confirm(user_id=user.id, code=wrong_code(setup.secret))
    # then
    assert caught.value.message.startswith("code:")
    assert isinstance(services.user_signin(email=user.email, password=PASSWORD), services.AuthResult)


def test_setup_again_while_on_is_refused():
    # given
    user = UserFactory()
    two_factor_on(user)
    # when / then
    with pytest.raises(AlreadyExists):
        mfa.totp_setup(user_id=user.id)


def test_signin_with_two_factor_answers_a_token_and_no_session():
    # given
    user = UserFactory()
    two_factor_on(user)
    # when
    result = services.user_signin(email=user.email, password=PASSWORD)
    # then
    assert isinstance(result, mfa.MfaRequired) and result.mfa_required
    assert len(result.mfa_token) >= 40
    assert not user.sessions.exists()


def test_second_step_with_a_totp_code_opens_a_session():
    # given
    user = UserFactory()
    two_factor = two_factor_on(user)
    challenge = _step_one(user)
    # when
    result = mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=totp_code(two_factor.secret))
    # then
    assert result.user.id == user.id
    assert access_token_verify(result.tokens.access_token).user_id == user.id


def test_a_wrong_totp_code_is_refused():
    # given
    user = UserFactory()
    two_factor = two_factor_on(user)
    challenge = _step_one(user)
    # when
    with pytest.raises(NotAuthenticated) as caught:
        mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=wrong_code(two_factor.secret))
    # then: refused, and the same token still works with the right code
    assert caught.value.message == mfa.BAD_CODE
    assert mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=totp_code(two_factor.secret)).tokens


def test_a_replayed_totp_code_is_refused():
    # given: a code was used to sign in
    user = UserFactory()
    two_factor = two_factor_on(user)
    code = totp_code(two_factor.secret)
    mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=code)
    # when: the same code again, within its window, on a fresh sign-in
    with pytest.raises(NotAuthenticated) as caught:
        mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=code)
    # then
    assert caught.value.message == mfa.BAD_CODE


def test_an_older_code_after_a_newer_one_is_refused():
    # given: the next step's code (clock skew) was used
    user = UserFactory()
    two_factor = two_factor_on(user)
    mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=totp_code(two_factor.secret, steps_ahead=1))
    # when / then: the current code is older, so it cannot be used any more
    with pytest.raises(NotAuthenticated):
        mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=totp_code(two_factor.secret))


def test_a_recovery_code_works_once():
    # given
    user = UserFactory()
    two_factor = two_factor_on(user)
    code = two_factor.recovery_codes[3]
    # when: used, with spaces and upper case as a person might type it
    first = mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=f" {code.upper()} ")
    # then: it signed in, and a second use is refused
    assert first.tokens.access_token
    with pytest.raises(NotAuthenticated) as caught:
        mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=code)
    assert caught.value.message == mfa.BAD_CODE
    assert mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=two_factor.recovery_codes[4]).tokens


def test_an_mfa_token_works_once():
    # given
    user = UserFactory()
    two_factor = two_factor_on(user)
    challenge = _step_one(user)
    mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=totp_code(two_factor.secret))
    # when / then: even with a fresh, right code
    with pytest.raises(NotAuthenticated) as caught:
        mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=totp_code(two_factor.secret, steps_ahead=1))
    assert caught.value.message == mfa.BAD_MFA_TOKEN


def test_an_mfa_token_past_its_lifetime_is_refused(settings):
    # given
    settings.MFA_TOKEN_TTL_SECONDS = 300
    user = UserFactory()
    two_factor = two_factor_on(user)
    challenge = _step_one(user)
    # when: its lifetime has passed
    MfaChallenge.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    # then
    with pytest.raises(NotAuthenticated) as caught:
        mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=totp_code(two_factor.secret))
    assert caught.value.message == mfa.BAD_MFA_TOKEN


def test_an_mfa_token_lives_as_long_as_the_setting():
    # given
    user = UserFactory()
    two_factor_on(user)
    before = timezone.now()
    # when
    challenge = _step_one(user)
    # then
    lifetime = (challenge.expires_at - before).total_seconds()
    assert 295 <= lifetime <= 301


def test_brute_force_spends_the_mfa_token(settings):
    # given
    settings.MFA_MAX_ATTEMPTS_PER_TOKEN = 3
    user = UserFactory()
    two_factor = two_factor_on(user)
    challenge = _step_one(user)
    # when: three wrong codes
    for _ in range(3):
        with pytest.raises(NotAuthenticated):
            mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=wrong_code(two_factor.secret))
    # then: the token is spent, even for the right code
    with pytest.raises(NotAuthenticated) as caught:
        mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=totp_code(two_factor.secret))
    assert caught.value.message == mfa.BAD_MFA_TOKEN


def test_brute_force_over_fresh_tokens_locks_the_accounts_second_step(settings):
    # given
    settings.MFA_MAX_ATTEMPTS_PER_TOKEN = 5
    settings.MFA_MAX_FAILURES_PER_ACCOUNT = 6
    user = UserFactory()
    two_factor = two_factor_on(user)
    # when: wrong codes over several sign-ins, more than the account allows
    for _ in range(3):
        challenge = _step_one(user)
        for _ in range(2):
            with pytest.raises(NotAuthenticated):
                mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=wrong_code(two_factor.secret))
    # then: even the right code is throttled (429) until the window ends
    with pytest.raises(RateLimited) as caught:
        mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=totp_code(two_factor.secret))
    assert caught.value.retry_after > 0


def test_disable_needs_the_password_then_signin_is_one_step():
    # given
    user = UserFactory()
    two_factor_on(user)
    # when: a wrong password
    with pytest.raises(ValidationFailed):
        mfa.totp_disable(user_id=user.id, password="not-the-password")
    # then: still on
    assert isinstance(services.user_signin(email=user.email, password=PASSWORD), mfa.MfaRequired)
    # when: the right one
    mfa.totp_disable(user_id=user.id, password=PASSWORD)
    # then
    assert isinstance(services.user_signin(email=user.email, password=PASSWORD), services.AuthResult)
    assert not RecoveryCode.objects.filter(user=user).exists()


def test_a_pending_challenge_ends_when_two_factor_is_turned_off():
    # given
    user = UserFactory()
    two_factor = two_factor_on(user)
    challenge = _step_one(user)
    # when
    mfa.totp_reset(user=user)
    # then
    with pytest.raises(NotAuthenticated):
        mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=totp_code(two_factor.secret))


def test_a_secret_encrypted_under_a_previous_key_still_works(settings):
    # given: two-factor turned on under one key
    settings.MFA_ENCRYPTION_KEYS = ["old-key-" + "x" * 40]
    user = UserFactory()
    two_factor = two_factor_on(user)
    # when: a new key is put first, the old one kept for reading
    settings.MFA_ENCRYPTION_KEYS = ["new-key-" + "y" * 40, "old-key-" + "x" * 40]
    # then
    result = mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=totp_code(two_factor.secret))
    assert result.tokens.access_token


@pytest.mark.django_db(transaction=True)  # the guesses run on threads with their own connections
def test_parallel_guesses_with_one_token_try_no_more_codes_than_allowed(settings):
    # given
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    settings.MFA_MAX_ATTEMPTS_PER_TOKEN = 3
    settings.MFA_MAX_FAILURES_PER_ACCOUNT = 1000
    user = UserFactory()
    two_factor = two_factor_on(user)
    challenge = _step_one(user)
    tried = []

    def guess(_):
        try:
            mfa.user_signin_mfa(mfa_token=challenge.mfa_token, code=wrong_code(two_factor.secret))
        except NotAuthenticated as exc:
            tried.append(exc.message)
        finally:
            connection.close()

    # when: twelve guesses at once
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(guess, range(12)))
    # then: three codes were checked; the rest found the token spent
    assert tried.count(mfa.BAD_CODE) == 3
    assert tried.count(mfa.BAD_MFA_TOKEN) == 9
    assert MfaChallenge.objects.get(user=user).attempts == 3


def test_a_secret_under_a_lost_key_is_unavailable_not_accepted(settings):
    # given: two-factor on under one key, which is then replaced without keeping it
    from shared_apps.core.errors import ServiceUnavailable

    settings.MFA_ENCRYPTION_KEYS = ["lost-key-" + "x" * 40]
    user = UserFactory()
    two_factor = two_factor_on(user)
    settings.MFA_ENCRYPTION_KEYS = ["other-key-" + "y" * 40]
    # when / then: a 503, never a sign-in
    with pytest.raises(ServiceUnavailable):
        mfa.user_signin_mfa(mfa_token=_step_one(user).mfa_token, code=totp_code(two_factor.secret))
