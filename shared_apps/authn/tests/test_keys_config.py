"""Key ring parsing and the production checks on the signing key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared_apps.authn.keys import build_keyring, check_production_signing_key
from shared_apps.authn.tests.conftest import private_pem, public_pem
from shared_apps.core.config import ConfigError

DEV = "dev-insecure-jwt-signing-key-change-me-0123456789abcdef"
SECRET_KEY = "django-secret-key-django-secret-key-django-secret-key-0123"
GOOD = "a-real-random-signing-secret-with-enough-entropy-0123456789"


def _check(secret: str) -> None:
    check_production_signing_key(
        build_keyring(algorithm="HS256", signing_key=secret), dev_key=DEV, secret_key=SECRET_KEY
    )


def test_good_secret_passes():
    _check(GOOD)


@pytest.mark.parametrize(
    "secret, problem",
    [(DEV, "development default"), ("x" * 31, "256 bits"), (SECRET_KEY, "DJANGO_SECRET_KEY")],
)
def test_production_refuses_weak_signing_keys(secret, problem):
    # when / then
    with pytest.raises(ConfigError, match="JWT_SIGNING_KEY") as caught:
        _check(secret)
    assert problem in str(caught.value)


def test_hs256_requires_a_secret():
    with pytest.raises(ConfigError, match="JWT_SIGNING_KEY"):
        build_keyring(algorithm="HS256", signing_key="")


def test_rsa_key_for_eddsa_is_refused(rsa_keys):
    with pytest.raises(ConfigError, match="JWT_SIGNING_KEY"):
        build_keyring(algorithm="EdDSA", signing_key=private_pem(rsa_keys[0]))


def test_short_rsa_key_is_refused():
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigError, match="shorter than 2048"):
        build_keyring(algorithm="RS256", signing_key=private_pem(weak))


def test_garbage_pem_names_the_variable():
    with pytest.raises(ConfigError, match="JWT_SIGNING_KEY"):
        build_keyring(algorithm="RS256", signing_key="not a pem")
    with pytest.raises(ConfigError, match="JWT_VERIFYING_KEY"):
        build_keyring(
            algorithm="RS256",
            signing_key=None,
            verifying_keys_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        )


def test_asymmetric_needs_some_key():
    with pytest.raises(ConfigError, match="JWT_VERIFYING_KEY"):
        build_keyring(algorithm="RS256", signing_key=None)


def test_ed25519_public_key_for_rs256_is_refused(ed25519_key):
    with pytest.raises(ConfigError, match="JWT_VERIFYING_KEY"):
        build_keyring(algorithm="RS256", signing_key=None, verifying_keys_pem=public_pem(ed25519_key))
