"""The JWT key ring: one signing key, any number of verifying keys, each with a ``kid``.

HS256 uses a shared secret (the verifying service holds the same secret); RS256 and
EdDSA sign with a private key and verify with public keys, so a verifying service
needs only ``JWT_VERIFYING_KEY``. Rotation: add the new public key (or, for HS256,
keep the old secret in ``JWT_PREVIOUS_SIGNING_KEYS``) beside the current one, switch
the signing key, and drop the old key once its tokens have expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from shared_apps.core.config import ConfigError

PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)
MIN_HMAC_BYTES = 32
MIN_RSA_BITS = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(algorithm: str, public_key: Any) -> dict[str, Any]:
    if algorithm == "RS256":
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(public_key, as_dict=True)
    return jwk


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint, used as the ``kid`` of an asymmetric key."""
    required = {"RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())[:22]


def hmac_kid(secret: str) -> str:
    return "hs-" + _b64(hashlib.sha256(b"kid:" + secret.encode()).digest())[:16]


@dataclass(frozen=True)
class KeyRing:
    algorithm: str
    signing_kid: str | None
    signing_key: Any | None
    verifying_keys: dict[str, Any] = field(default_factory=dict)
    jwks: tuple[dict[str, Any], ...] = ()

    def verifying_key(self, kid: str | None) -> Any | None:
        if kid is None:
            return None
        return self.verifying_keys.get(kid)


def _load_private(algorithm: str, pem: str, var: str) -> Any:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{var} is not a PEM private key for {algorithm}") from exc
    expected = rsa.RSAPrivateKey if algorithm == "RS256" else ed25519.Ed25519PrivateKey
    if not isinstance(key, expected):
        raise ConfigError(f"{var} is not a {algorithm} private key")
    if algorithm == "RS256" and key.key_size < MIN_RSA_BITS:
        raise ConfigError(f"{var} is an RSA key shorter than {MIN_RSA_BITS} bits")
    return key


def _load_public(algorithm: str, pem: str, var: str) -> Any:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{var} holds a block that is not a PEM public key") from exc
    expected = rsa.RSAPublicKey if algorithm == "RS256" else ed25519.Ed25519PublicKey
    if not isinstance(key, expected):
        raise ConfigError(f"{var} holds a public key that is not for {algorithm}")
    return key


def build_keyring(
    *,
    algorithm: str,
    signing_key: str | None,
    verifying_keys_pem: str | None = None,
    previous_secrets: list[str] | None = None,
) -> KeyRing:
    """Parse and check the configured keys. Raises ConfigError naming the variable."""
    verifying: dict[str, Any] = {}
    jwks: list[dict[str, Any]] = []
    if algorithm == "HS256":
        if not signing_key:
            raise ConfigError("JWT_SIGNING_KEY is required for HS256 (the shared secret)")
        for secret in [signing_key, *(previous_secrets or [])]:
            verifying[hmac_kid(secret)] = secret
        return KeyRing(algorithm, hmac_kid(signing_key), signing_key, verifying, ())

    signing_kid = None
    private = None
    public_keys = []
    if signing_key:
        private = _load_private(algorithm, signing_key, "JWT_SIGNING_KEY")
        public_keys.append(private.public_key())
    for block in PEM_BLOCK.findall(verifying_keys_pem or ""):
        public_keys.append(_load_public(algorithm, block, "JWT_VERIFYING_KEY"))
    if not public_keys:
        raise ConfigError(f"JWT_VERIFYING_KEY (or JWT_SIGNING_KEY) is required for {algorithm}")
    for index, public in enumerate(public_keys):
        jwk = public_jwk(algorithm, public)
        kid = jwk_thumbprint(jwk)
        if index == 0 and private is not None:
            signing_kid = kid
        if kid not in verifying:
            verifying[kid] = public
            jwks.append({**jwk, "kid": kid, "use": "sig", "alg": algorithm})
    return KeyRing(algorithm, signing_kid, private, verifying, tuple(jwks))


def check_production_keys(
    keyring: KeyRing,
    *,
    signing_key: str | None,
    verifying_keys_pem: str | None,
    previous_secrets: list[str] | None,
    dev_key: str,
    secret_key: str,
) -> None:
    """Production refuses a weak key in any slot that can sign or verify a token.

    The development key is refused wherever it appears (``JWT_SIGNING_KEY``,
    ``JWT_VERIFYING_KEY``, ``JWT_PREVIOUS_SIGNING_KEYS``): it is in the source, so a token
    signed with it is a forgery. With HS256 every secret that verifies tokens (the current
    one and each previous one) must also be at least 256 bits and must not be Django's
    ``SECRET_KEY``. Raises ConfigError naming the variable.
    """
    slots = {
        "JWT_SIGNING_KEY": [signing_key or ""],
        "JWT_VERIFYING_KEY": [verifying_keys_pem or ""],
        "JWT_PREVIOUS_SIGNING_KEYS": list(previous_secrets or []),
    }
    for var, values in slots.items():
        if any(value.strip() == dev_key for value in values):
            raise ConfigError(f"{var} holds the development key; set a real secret")
    if keyring.algorithm != "HS256":
        return
    for var in ("JWT_SIGNING_KEY", "JWT_PREVIOUS_SIGNING_KEYS"):
        for secret in slots[var]:
            if len(secret.encode()) < MIN_HMAC_BYTES:
                raise ConfigError(
                    f"{var}: every HS256 secret must be at least {MIN_HMAC_BYTES * 8} bits ({MIN_HMAC_BYTES} bytes)"
                )
            if secret == secret_key:
                raise ConfigError(f"{var} must not be DJANGO_SECRET_KEY")
