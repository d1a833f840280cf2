"""Verifying an access token: the one function every transport's authentication calls.

``access_token_verify`` checks signature, expiry, type, issuer and audience (in
``tokens``), then asks the site's session-state check whether the session is still
live. The auth site answers that from its database; the chat site from the
revocation feed it keeps in memory (``revocation``), so verification costs no network
round trip per request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework_simplejwt.exceptions import TokenError

from shared_apps.authn.tokens import SessionAccessToken
from shared_apps.core.errors import NotAuthenticated


@dataclass(frozen=True)
class Principal:
    """Who a verified access token speaks for. Quacks enough like a user for DRF."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    is_staff: bool
    expires_at: datetime
    jti: str
    # "session" (an access token) or "api_key"; for an API key ``session_id`` is the key's id,
    # so the revocation feed ends it like a session, and ``expires_at`` is the far future.
    credential: str = "session"

    is_authenticated = True
    is_anonymous = False

    @property
    def id(self) -> uuid.UUID:
        return self.user_id

    pk = id


API_KEY_PREFIX = "cak_"  # what an API key starts with (a JWT starts with "eyJ")
NEVER_EXPIRES = datetime(9999, 12, 31, tzinfo=UTC)


@lru_cache(maxsize=1)
def _session_state_check() -> Callable[[uuid.UUID, uuid.UUID], bool]:
    return import_string(settings.AUTHN_SESSION_STATE_CHECK)


def access_token_claims(raw_token: str) -> SessionAccessToken:
    """Signature, expiry, type, issuer, audience. No session check."""
    if not raw_token or len(raw_token) > 4096:
        raise NotAuthenticated("Token is invalid.")
    try:
        return SessionAccessToken(raw_token)
    except TokenError as exc:
        message = str(exc)
        if "expired" in message:
            raise NotAuthenticated("Token is expired.") from exc
        if "wrong type" in message:
            raise NotAuthenticated("Token has the wrong type; an access token is required.") from exc
        raise NotAuthenticated("Token is invalid.") from exc


def principal_from_claims(token: SessionAccessToken) -> Principal:
    try:
        return Principal(
            user_id=uuid.UUID(str(token["sub"])),
            session_id=uuid.UUID(str(token["sid"])),
            is_staff=bool(token.get("stf", False)),
            expires_at=datetime.fromtimestamp(int(token["exp"]), tz=UTC),
            jti=str(token["jti"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise NotAuthenticated("Token is invalid.") from exc


def session_state_check(principal: Principal) -> bool:
    """Whether the principal's session is still live (the site's check; cheap on the chat site)."""
    return _session_state_check()(principal.session_id, principal.user_id)


def access_token_verify(raw_token: str) -> Principal:
    """Return the principal of a live access token or raise NotAuthenticated."""
    principal = principal_from_claims(access_token_claims(raw_token))
    if not _session_state_check()(principal.session_id, principal.user_id):
        raise NotAuthenticated("Session has ended; sign in again.")
    return principal


def bearer_token(header_value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None."""
    if not header_value:
        return None
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def credential_verify(raw_token: str) -> Principal:
    """The one check of a bearer credential, for every transport: an access token, or an API
    key where the site accepts them (``AUTHN_API_KEY_VERIFY``: the chat service). Raises
    NotAuthenticated (or ServiceUnavailable when it cannot be checked right now)."""
    if raw_token.startswith(API_KEY_PREFIX):
        verifier = getattr(settings, "AUTHN_API_KEY_VERIFY", None)
        if not verifier:
            raise NotAuthenticated("API keys are accepted by the chat service only; use an access token.")
        return import_string(verifier)(raw_token)
    return access_token_verify(raw_token)
