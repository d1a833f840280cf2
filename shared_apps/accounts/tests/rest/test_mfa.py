"""Two-factor sign-in over REST: /v1/auth/mfa/totp/{setup,confirm}, DELETE /v1/auth/mfa/totp,
/v1/auth/signin answering {mfa_required, mfa_token}, and /v1/auth/signin/mfa."""

from __future__ import annotations

import pytest

from shared_apps.accounts.tests.conftest import bearer
from shared_apps.accounts.tests.factories import PASSWORD
from shared_apps.accounts.tests.mfa_support import totp_code, wrong_code

pytestmark = pytest.mark.django_db


def _signin(api, user):
    return api.post("/v1/auth/signin", {"email": user.email, "password": PASSWORD}, format="json")


def _turn_on(api, access: str) -> tuple[str, list[str]]:
    setup = api.post("/v1/auth/mfa/totp/setup", **bearer(access))
    assert setup.status_code == 200
    secret = setup.json()["secret"]
    code = totp_code(secret, steps_ahead=-1)
    confirm = api.post("/v1/auth/mfa/totp/confirm", {"code": code}, format="json", **bearer(access))
    assert confirm.status_code == 200
    return secret, confirm.json()["recovery_codes"]


def test_setup_confirm_then_signin_takes_two_steps(api, signed_in):
    # given
    user, tokens = signed_in
    # when: the user turns two-factor on
    setup = api.post("/v1/auth/mfa/totp/setup", **bearer(tokens.access_token))
    body = setup.json()
    confirm = api.post(
        "/v1/auth/mfa/totp/confirm",
        {"code": totp_code(body["secret"], steps_ahead=-1)},
        format="json",
        **bearer(tokens.access_token),
    )
    # then
    assert setup.status_code == 200 and set(body) == {"secret", "otpauth_uri"}
    assert body["otpauth_uri"].startswith("otpauth://totp/") and "issuer=" in body["otpauth_uri"]
    assert confirm.status_code == 200
    codes = confirm.json()["recovery_codes"]
    assert len(codes) == 10 and all(len(c) == 11 and c[5] == "-" for c in codes)

    # when: signing in
    step_one = _signin(api, user)
    # then: no tokens, a token for the second step
    assert step_one.status_code == 200
    assert step_one.json() == {"mfa_required": True, "mfa_token": step_one.json()["mfa_token"]}
    assert "tokens" not in step_one.json()

    # when: the second step
    step_two = api.post(
        "/v1/auth/signin/mfa",
        {"mfa_token": step_one.json()["mfa_token"], "code": totp_code(body["secret"])},
        format="json",
    )
    # then: like sign-in
    assert step_two.status_code == 200
    assert step_two.json()["user"]["id"] == str(user.id)
    access = step_two.json()["tokens"]["access_token"]
    assert api.get("/v1/auth/api-keys", **bearer(access)).status_code == 200


def test_second_step_errors(api, signed_in):
    # given
    user, tokens = signed_in
    secret, recovery = _turn_on(api, tokens.access_token)
    mfa_token = _signin(api, user).json()["mfa_token"]
    # when
    wrong = api.post("/v1/auth/signin/mfa", {"mfa_token": mfa_token, "code": wrong_code(secret)}, format="json")
    bad_token = api.post("/v1/auth/signin/mfa", {"mfa_token": "x" * 43, "code": totp_code(secret)}, format="json")
    missing = api.post("/v1/auth/signin/mfa", {"mfa_token": mfa_token}, format="json")
    # then
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthenticated"
    assert bad_token.status_code == 401
    assert missing.status_code == 400 and "code" in missing.json()["error"]["details"]


def test_a_recovery_code_signs_in_once(api, signed_in):
    # given
    user, tokens = signed_in
    _secret, recovery = _turn_on(api, tokens.access_token)
    # when
    first = api.post(
        "/v1/auth/signin/mfa", {"mfa_token": _signin(api, user).json()["mfa_token"], "code": recovery[0]}, format="json"
    )
    again = api.post(
        "/v1/auth/signin/mfa", {"mfa_token": _signin(api, user).json()["mfa_token"], "code": recovery[0]}, format="json"
    )
    # then
    assert first.status_code == 200 and first.json()["tokens"]["access_token"]
    assert again.status_code == 401


def test_brute_force_of_codes_is_throttled_with_429(api, signed_in, settings):
    # given
    settings.MFA_MAX_FAILURES_PER_ACCOUNT = 4
    user, tokens = signed_in
    secret, _ = _turn_on(api, tokens.access_token)
    # when: wrong codes
    statuses = []
    for _ in range(3):
        mfa_token = _signin(api, user).json()["mfa_token"]
        for _ in range(2):
            response = api.post(
                "/v1/auth/signin/mfa", {"mfa_token": mfa_token, "code": wrong_code(secret)}, format="json"
            )
            statuses.append(response.status_code)
    # then: past the account's allowance every attempt is 429 with Retry-After, the right code too
    assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}
    right = api.post(
        "/v1/auth/signin/mfa",
        {"mfa_token": _signin(api, user).json()["mfa_token"], "code": totp_code(secret)},
        format="json",
    )
    assert right.status_code == 429 and int(right["Retry-After"]) > 0


def test_disable_takes_the_password(api, signed_in):
    # given
    user, tokens = signed_in
    _turn_on(api, tokens.access_token)
    # when
    wrong = api.delete(
        "/v1/auth/mfa/totp", {"password": "wrong-password-1"}, format="json", **bearer(tokens.access_token)
    )
    right = api.delete("/v1/auth/mfa/totp", {"password": PASSWORD}, format="json", **bearer(tokens.access_token))
    # then
    assert wrong.status_code == 400 and wrong.json()["error"]["message"].startswith("password:")
    assert right.status_code == 204
    assert "tokens" in _signin(api, user).json()


def test_setup_needs_a_signed_in_caller(api):
    # when
    response = api.post("/v1/auth/mfa/totp/setup")
    # then
    assert response.status_code == 401


def test_setup_while_on_is_409(api, signed_in):
    # given
    _user, tokens = signed_in
    _turn_on(api, tokens.access_token)
    # when
    response = api.post("/v1/auth/mfa/totp/setup", **bearer(tokens.access_token))
    # then
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_exists"


def test_confirm_without_setup_is_400(api, signed_in):
    # given
    _user, tokens = signed_in
    # when
    response = api.post("/v1/auth/mfa/totp/confirm", {"code": "123456"}, format="json", **bearer(tokens.access_token))
    # then
    assert response.status_code == 400
