"""Access and refresh tokens: djangorestframework-simplejwt's token classes, signed and
verified through the key ring so every token carries a ``kid`` and is checked for
algorithm, signature, expiry, issuer, audience and the claims we rely on.

``jwt.decode`` is always given the one configured algorithm, so ``alg: none`` and
HS/RS confusion fail; ``jku``/``x5u``/``jwk`` headers are never consulted: the key
comes only from our key ring, chosen by ``kid``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.tokens import AccessToken, Token

from shared_apps.authn.keys import KeyRing

REQUIRED_CLAIMS = ["exp", "iat", "jti", "sub", "sid", "typ", "iss", "aud"]


class KeyRingTokenBackend(TokenBackend):
    def __init__(self, keyring: KeyRing) -> None:
        super().__init__(
            algorithm=keyring.algorithm,
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            leeway=settings.JWT_LEEWAY_SECONDS,
        )
        self.keyring = keyring

    def _validate_algorithm(self, algorithm: str) -> None:
        if algorithm not in {"HS256", "RS256", "EdDSA"}:
            raise TokenBackendError(f"Unsupported algorithm {algorithm!r}")

    def encode(self, payload: dict[str, Any]) -> str:
        if self.keyring.signing_key is None:
            raise TokenBackendError("This service holds no signing key")
        claims = {**payload, "aud": self.audience, "iss": self.issuer}
        return jwt.encode(
            claims, self.keyring.signing_key, algorithm=self.algorithm, headers={"kid": self.keyring.signing_kid}
        )

    def decode(self, token: Any, verify: bool = True) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc
        key = self.keyring.verifying_key(header.get("kid"))
        if key is None:
            raise TokenBackendError("Token is signed with an unknown key")
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc


@lru_cache(maxsize=1)
def token_backend() -> KeyRingTokenBackend:
    return KeyRingTokenBackend(settings.JWT_KEYRING)


@receiver(setting_changed)
def _reset_backend(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("JWT_"):
        token_backend.cache_clear()


class SessionAccessToken(AccessToken):
    token_type = "access"

    @property
    def lifetime(self):  # read per token so tests can override settings
        return settings.JWT_ACCESS_TTL

    def get_token_backend(self) -> KeyRingTokenBackend:
        return token_backend()


class SessionRefreshToken(Token):
    token_type = "refresh"

    @property
    def lifetime(self):
        return settings.JWT_REFRESH_TTL

    def get_token_backend(self) -> KeyRingTokenBackend:
        return token_backend()
