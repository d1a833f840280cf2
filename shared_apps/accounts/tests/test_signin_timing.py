"""An unknown address costs one password hash, like a known one (no user enumeration by timing)."""

from __future__ import annotations

import pytest

from shared_apps.accounts import services
from shared_apps.core.errors import NotAuthenticated
from shared_apps.core.testing import FastArgon2PasswordHasher

pytestmark = pytest.mark.django_db


@pytest.fixture
def hash_calls(monkeypatch):
    calls: list[str] = []
    original_encode, original_verify = FastArgon2PasswordHasher.encode, FastArgon2PasswordHasher.verify

    def encode(self, password, salt):
        calls.append("encode")
        return original_encode(self, password, salt)

    def verify(self, password, encoded):
        calls.append("verify")
        return original_verify(self, password, encoded)

    monkeypatch.setattr(FastArgon2PasswordHasher, "encode", encode)
    monkeypatch.setattr(FastArgon2PasswordHasher, "verify", verify)
    return calls


@pytest.mark.parametrize("email", ["ghost@example.com", "bad\x00@example.com", "x" * 300 + "@example.com"])
def test_unknown_email_still_hashes_once(hash_calls, email):
    # when
    with pytest.raises(NotAuthenticated):
        services.user_signin(email=email, password="whatever-1")
    # then
    assert hash_calls == ["encode"]


def test_known_email_with_wrong_password_hashes_once(user, hash_calls):
    # when
    with pytest.raises(NotAuthenticated):
        services.user_signin(email=user.email, password="whatever-1")
    # then
    assert hash_calls == ["verify"]
