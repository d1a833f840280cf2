"""Encryption at rest of the secrets the auth service must read back (TOTP secrets).

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under keys derived from
``MFA_ENCRYPTION_KEYS`` (the environment's ``MFA_ENCRYPTION_KEY``, comma-separated while
rotating: the first encrypts, every one decrypts), or from ``SECRET_KEY`` when none is set.
Each configured value is stretched to a Fernet key with SHA-256 under a fixed label, so any
long random string works and the derived key is never Django's own secret.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

LABEL = b"chat-ai/accounts/secret-box/v1\x00"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _fernet_key(material: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(LABEL + material.encode()).digest())


@lru_cache(maxsize=1)
def _box() -> MultiFernet:
    materials = list(settings.MFA_ENCRYPTION_KEYS) or [settings.SECRET_KEY]
    return MultiFernet([Fernet(_fernet_key(material)) for material in materials])


@receiver(setting_changed)
def _reset_box(*, setting: str, **kwargs) -> None:
    if setting in ("MFA_ENCRYPTION_KEYS", "SECRET_KEY"):
        _box.cache_clear()


def secret_encrypt(plaintext: str) -> str:
    return _box().encrypt(plaintext.encode()).decode()


def secret_decrypt(ciphertext: str) -> str:
    try:
        return _box().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("The stored secret cannot be decrypted with the configured keys.") from exc
