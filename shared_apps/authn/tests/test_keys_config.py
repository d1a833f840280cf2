"""Key ring parsing and the production checks on the signing key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared_apps.authn.keys import build_keyring, check_production_keys
from shared_apps.authn.tests.conftest import private_pem, public_pem
from shared_apps.core.config import ConfigError

DEV = "dev-insecure-jwt-signing-key-change-me-0123456789abcdef"
SECRET_KEY = "django-secret-key-django-secret-key-django-secret-key-0123"
GOOD = "a-real-random-signing-secret-with-enough-entropy-0123456789"


def _check(secret: str, previous: list[str] | None = None, verifying: str = "") -> None:
    check_production_keys(
        build_keyring(algorithm="HS256", signing_key=secret, previous_secrets=previous),
        signing_key=secret,
        verifying_keys_pem=verifying,
        previous_secrets=previous,
        dev_key=DEV,
        secret_key=SECRET_KEY,
    )


def test_good_secret_passes():
    _check(GOOD)


@pytest.mark.parametrize(
    "secret, problem",
    [(DEV, "development key"), ("x" * 31, "256 bits"), (SECRET_KEY, "DJANGO_SECRET_KEY")],
)
def test_production_refuses_weak_signing_keys(secret, problem):
    # when / then
    with pytest.raises(ConfigError, match="JWT_SIGNING_KEY") as caught:
        _check(secret)
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "previous, verifying, variable, problem",
    [
        ([DEV], "", "JWT_PREVIOUS_SIGNING_KEYS", "development key"),
        ([GOOD + "-old", DEV], "", "JWT_PREVIOUS_SIGNING_KEYS", "development key"),
        (["y" * 31], "", "JWT_PREVIOUS_SIGNING_KEYS", "256 bits"),
        ([SECRET_KEY], "", "JWT_PREVIOUS_SIGNING_KEYS", "DJANGO_SECRET_KEY"),
        ([], DEV, "JWT_VERIFYING_KEY", "development key"),
    ],
)
def test_production_refuses_weak_keys_in_every_slot(previous, verifying, variable, problem):
    with pytest.raises(ConfigError, match=variable) as caught:
        _check(GOOD, previous, verifying)
    assert problem in str(caught.value)


def test_asymmetric_ring_still_refuses_the_development_key_beside_it(ed25519_key):
    # given an EdDSA ring (previous HMAC secrets play no part in it) with the dev key left in a slot
    ring = build_keyring(algorithm="EdDSA", signing_key=private_pem(ed25519_key))
    # when / then
    with pytest.raises(ConfigError, match="JWT_PREVIOUS_SIGNING_KEYS"):
        check_production_keys(
            ring,
            signing_key=private_pem(ed25519_key),
            verifying_keys_pem="",
            previous_secrets=[DEV],
            dev_key=DEV,
            secret_key=SECRET_KEY,
        )


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
