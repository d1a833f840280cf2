"""A previous key keeps verifying while a new one signs, so rotation signs no one out."""

from __future__ import annotations

import pytest
from django.test import override_settings

from shared_apps.accounts import services
from shared_apps.accounts.tests.factories import PASSWORD
from shared_apps.authn.keys import build_keyring, hmac_kid
from shared_apps.authn.tests.conftest import private_pem, public_pem
from shared_apps.authn.verify import access_token_verify
from shared_apps.core.errors import NotAuthenticated

pytestmark = pytest.mark.django_db

OLD_SECRET = "old-secret-old-secret-old-secret-0123456789"
NEW_SECRET = "new-secret-new-secret-new-secret-0123456789"


def test_hs256_previous_secret_still_verifies(user):
    # given
    with override_settings(JWT_KEYRING=build_keyring(algorithm="HS256", signing_key=OLD_SECRET)):
        old = services.user_signin(email=user.email, password=PASSWORD).tokens
    rotated = build_keyring(algorithm="HS256", signing_key=NEW_SECRET, previous_secrets=[OLD_SECRET])
    # when
    with override_settings(JWT_KEYRING=rotated):
        principal = access_token_verify(old.access_token)
        new = services.session_refresh(refresh_token=old.refresh_token)
    # then
    assert principal.user_id == user.id
    assert rotated.signing_kid == hmac_kid(NEW_SECRET) != hmac_kid(OLD_SECRET)
    with override_settings(JWT_KEYRING=rotated):
        assert access_token_verify(new.access_token).session_id == old.session_id


def test_hs256_dropped_secret_no_longer_verifies(user):
    # given
    with override_settings(JWT_KEYRING=build_keyring(algorithm="HS256", signing_key=OLD_SECRET)):
        old = services.user_signin(email=user.email, password=PASSWORD).tokens
    # when / then
    with override_settings(JWT_KEYRING=build_keyring(algorithm="HS256", signing_key=NEW_SECRET)):
        with pytest.raises(NotAuthenticated):
            access_token_verify(old.access_token)


def test_rs256_previous_public_key_still_verifies(user, rsa_keys):
    # given
    current, previous = rsa_keys
    with override_settings(JWT_KEYRING=build_keyring(algorithm="RS256", signing_key=private_pem(previous))):
        old = services.user_signin(email=user.email, password=PASSWORD).tokens
    rotated = build_keyring(
        algorithm="RS256", signing_key=private_pem(current), verifying_keys_pem=public_pem(previous)
    )
    # when
    with override_settings(JWT_KEYRING=rotated, JWT_ALGORITHM="RS256"):
        principal = access_token_verify(old.access_token)
        new = services.session_refresh(refresh_token=old.refresh_token)
        new_principal = access_token_verify(new.access_token)
    # then
    assert principal.user_id == new_principal.user_id == user.id
    assert len(rotated.jwks) == 2
    assert [k["kid"] for k in rotated.jwks][0] == rotated.signing_kid


def test_verifying_only_keyring_cannot_sign(rsa_keys):
    # given
    keyring = build_keyring(algorithm="RS256", signing_key=None, verifying_keys_pem=public_pem(rsa_keys[0]))
    # then
    assert keyring.signing_key is None
    assert keyring.signing_kid is None
    assert len(keyring.verifying_keys) == 1
