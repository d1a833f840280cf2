"""What an issued token carries, and round trips with every supported algorithm."""

from __future__ import annotations

import jwt
import pytest
from django.conf import settings
from django.test import override_settings

from shared_apps.accounts import services
from shared_apps.accounts.tests.factories import PASSWORD
from shared_apps.authn.keys import build_keyring
from shared_apps.authn.tests.conftest import private_pem
from shared_apps.authn.verify import access_token_verify

pytestmark = pytest.mark.django_db


def test_access_and_refresh_tokens_carry_kid_sid_jti_iss_aud(signed_in):
    # given
    user, tokens = signed_in
    # when
    decoded = [
        (jwt.get_unverified_header(t), jwt.decode(t, options={"verify_signature": False}))
        for t in (tokens.access_token, tokens.refresh_token)
    ]
    # then
    for header, claims in decoded:
        assert header["kid"] == settings.JWT_KEYRING.signing_kid
        assert header["alg"] == "HS256"
        assert claims["sid"] == str(tokens.session_id)
        assert claims["sub"] == str(user.id)
        assert claims["iss"] == settings.JWT_ISSUER
        assert claims["aud"] == settings.JWT_AUDIENCE
        assert claims["jti"]
    (_, access), (_, refresh) = decoded
    assert access["typ"] == "access" and refresh["typ"] == "refresh"
    assert access["jti"] != refresh["jti"]


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
def test_asymmetric_round_trip(user, rsa_keys, ed25519_key, algorithm):
    # given
    key = rsa_keys[0] if algorithm == "RS256" else ed25519_key
    keyring = build_keyring(algorithm=algorithm, signing_key=private_pem(key))
    with override_settings(JWT_KEYRING=keyring, JWT_ALGORITHM=algorithm):
        # when
        tokens = services.user_signin(email=user.email, password=PASSWORD).tokens
        principal = access_token_verify(tokens.access_token)
        refreshed = services.session_refresh(refresh_token=tokens.refresh_token)
    # then
    assert principal.user_id == user.id
    header = jwt.get_unverified_header(tokens.access_token)
    assert header == {"alg": algorithm, "kid": keyring.signing_kid, "typ": "JWT"}
    jwt.decode(tokens.access_token, key.public_key(), algorithms=[algorithm], audience=settings.JWT_AUDIENCE)
    assert refreshed.session_id == tokens.session_id
