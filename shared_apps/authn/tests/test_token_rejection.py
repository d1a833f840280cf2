"""Tokens the verifier must refuse: expired, tampered, unsigned, confused, foreign, unknown key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.test import override_settings

from shared_apps.accounts import services
from shared_apps.accounts.tests.factories import PASSWORD
from shared_apps.authn.keys import build_keyring, public_jwk
from shared_apps.authn.tests.conftest import private_pem, public_pem
from shared_apps.authn.verify import access_token_verify
from shared_apps.core.errors import NotAuthenticated

pytestmark = pytest.mark.django_db


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified_claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def forge(header: dict, claims: dict, sign) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def hs256_with(secret: str, claims: dict, **header) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": settings.JWT_KEYRING.signing_kid, **header})


def test_expired_access_token_is_refused(user):
    # given
    with override_settings(JWT_ACCESS_TTL=timedelta(seconds=-5)):
        tokens = services.user_signin(email=user.email, password=PASSWORD).tokens
    # when / then
    with pytest.raises(NotAuthenticated, match="expired"):
        access_token_verify(tokens.access_token)


def test_expired_refresh_token_is_refused(user):
    # given
    with override_settings(JWT_REFRESH_TTL=timedelta(seconds=-5)):
        tokens = services.user_signin(email=user.email, password=PASSWORD).tokens
    # when / then
    with pytest.raises(NotAuthenticated, match="expired"):
        services.session_refresh(refresh_token=tokens.refresh_token)


def test_tampered_signature_is_refused(signed_in):
    # given
    _user, tokens = signed_in
    head, body, signature = tokens.access_token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    # when / then
    with pytest.raises(NotAuthenticated):
        access_token_verify(f"{head}.{body}.{flipped}")


def test_tampered_payload_is_refused(signed_in, staff):
    # given
    _user, tokens = signed_in
    head, _body, signature = tokens.access_token.split(".")
    claims = {**unverified_claims(tokens.access_token), "sub": str(staff.id), "stf": True}
    # when / then
    with pytest.raises(NotAuthenticated):
        access_token_verify(f"{head}.{b64(json.dumps(claims).encode())}.{signature}")


def test_alg_none_is_refused(signed_in):
    # given
    _user, tokens = signed_in
    claims = unverified_claims(tokens.access_token)
    header = {"alg": "none", "typ": "JWT", "kid": settings.JWT_KEYRING.signing_kid}
    unsigned = forge(header, claims, lambda _data: b"")
    # when / then
    with pytest.raises(NotAuthenticated):
        access_token_verify(unsigned)
    with pytest.raises(NotAuthenticated):
        access_token_verify(unsigned.rstrip("."))


def test_hs256_signed_with_the_rsa_public_key_is_refused_by_an_rs256_service(user, rsa_keys):
    # given
    keyring = build_keyring(algorithm="RS256", signing_key=private_pem(rsa_keys[0]))
    with override_settings(JWT_KEYRING=keyring, JWT_ALGORITHM="RS256"):
        genuine = services.user_signin(email=user.email, password=PASSWORD).tokens.access_token
        secret = public_pem(rsa_keys[0]).encode()
        header = {"alg": "HS256", "typ": "JWT", "kid": keyring.signing_kid}
        forged = forge(header, unverified_claims(genuine), lambda data: hmac.new(secret, data, hashlib.sha256).digest())
        # when / then
        assert access_token_verify(genuine).user_id == user.id
        with pytest.raises(NotAuthenticated):
            access_token_verify(forged)


@pytest.mark.parametrize("claim, value", [("iss", "someone-else"), ("aud", "another-audience")])
def test_wrong_issuer_or_audience_is_refused(signed_in, claim, value):
    # given
    _user, tokens = signed_in
    claims = {**unverified_claims(tokens.access_token), claim: value}
    token = hs256_with(settings.JWT_SIGNING_KEY, claims)
    # when / then
    with pytest.raises(NotAuthenticated):
        access_token_verify(token)


@pytest.mark.parametrize("missing", ["sid", "jti", "exp", "iss", "aud", "sub"])
def test_token_missing_a_required_claim_is_refused(signed_in, missing):
    # given
    _user, tokens = signed_in
    claims = unverified_claims(tokens.access_token)
    del claims[missing]
    # when / then
    with pytest.raises(NotAuthenticated):
        access_token_verify(hs256_with(settings.JWT_SIGNING_KEY, claims))


def test_resigned_with_our_key_is_accepted_so_the_rejections_above_are_meaningful(signed_in):
    # given
    _user, tokens = signed_in
    token = hs256_with(settings.JWT_SIGNING_KEY, unverified_claims(tokens.access_token))
    # when
    principal = access_token_verify(token)
    # then
    assert principal.session_id == tokens.session_id


@pytest.mark.parametrize("kid", ["unknown-kid", None])
def test_unknown_or_missing_kid_is_refused(signed_in, kid):
    # given
    _user, tokens = signed_in
    claims = unverified_claims(tokens.access_token)
    headers = {"kid": kid} if kid else {}
    token = jwt.encode(claims, settings.JWT_SIGNING_KEY, algorithm="HS256", headers=headers)
    if kid is None:
        assert "kid" not in jwt.get_unverified_header(token)
    # when / then
    with pytest.raises(NotAuthenticated):
        access_token_verify(token)


def test_token_signed_with_another_secret_is_refused(signed_in):
    # given
    _user, tokens = signed_in
    token = hs256_with("another-secret-of-at-least-thirty-two-bytes!!", unverified_claims(tokens.access_token))
    # when / then
    with pytest.raises(NotAuthenticated):
        access_token_verify(token)


def test_jku_x5u_and_jwk_headers_are_ignored(user, rsa_keys):
    # given: an RS256 service, and an attacker who signs with their own key and points at it
    keyring = build_keyring(algorithm="RS256", signing_key=private_pem(rsa_keys[0]))
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with override_settings(JWT_KEYRING=keyring, JWT_ALGORITHM="RS256"):
        genuine = services.user_signin(email=user.email, password=PASSWORD).tokens.access_token
        claims = unverified_claims(genuine)
        pointers = {
            "jku": "http://127.0.0.1:1/jwks.json",
            "x5u": "http://127.0.0.1:1/cert.pem",
            "jwk": public_jwk("RS256", attacker.public_key()),
        }
        forged = jwt.encode(claims, attacker, algorithm="RS256", headers={"kid": keyring.signing_kid, **pointers})
        ours_with_pointers = jwt.encode(
            claims, rsa_keys[0], algorithm="RS256", headers={"kid": keyring.signing_kid, **pointers}
        )
        # when / then
        with pytest.raises(NotAuthenticated):
            access_token_verify(forged)
        assert access_token_verify(ours_with_pointers).user_id == user.id


def test_oversized_token_is_refused_cheaply():
    # when / then
    with pytest.raises(NotAuthenticated):
        access_token_verify("x" * 5000)


def test_token_of_an_unknown_session_is_refused(signed_in):
    # given
    _user, tokens = signed_in
    claims = {**unverified_claims(tokens.access_token), "sid": str(uuid.uuid4()), "iat": int(time.time())}
    # when / then
    with pytest.raises(NotAuthenticated, match="Session"):
        access_token_verify(hs256_with(settings.JWT_SIGNING_KEY, claims))
