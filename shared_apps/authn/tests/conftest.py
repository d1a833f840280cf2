"""Fixtures of the token tests: key material generated per test run with ``cryptography``."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

# These tests run with the auth site, whose users and sessions issue the tokens under test.
from shared_apps.accounts.tests.conftest import auth_grpc_target, signed_in, staff, user  # noqa: F401


def private_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="session")
def rsa_keys():
    """Two RSA keys: (current, previous)."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))


@pytest.fixture(scope="session")
def ed25519_key():
    return ed25519.Ed25519PrivateKey.generate()
