"""Verifying API keys on a site that does not store them: the chat service.

A presented key (``Authorization: Bearer cak_...`` on REST, gRPC or the websocket) is sent to
the auth service's ``VerifyApiKey`` with the service credential (``AUTH_SERVICE_TOKEN``), and
the answer, yes (whose key, which key) or no, is kept in this process's memory for
``AUTHN_API_KEY_CACHE_SECONDS`` (60 s): at most one call to the auth service per key per
minute per process, however many requests use it; parallel first uses of a key wait for one
call. Entries are keyed by the key's SHA-256 digest, never the key.

A deleted key is refused within a second although its answer is cached: the auth service's
revocation feed lists deleted keys (and the keys of deactivated users) beside ended sessions,
and every use of a cached key is checked against it (``session_state_check``, a set lookup).
When the auth service cannot be asked, a key not in the cache is refused with
503/UNAVAILABLE; cached keys follow the feed's fail-closed rule.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import grpc
import structlog
from django.conf import settings

from protos import auth_pb2, auth_pb2_grpc
from shared_apps.authn.grpc_auth import SERVICE_TOKEN_METADATA
from shared_apps.authn.verify import NEVER_EXPIRES, Principal, session_state_check
from shared_apps.core.errors import NotAuthenticated, ServiceUnavailable

logger = structlog.get_logger(__name__)

MAX_KEY_LENGTH = 128
MAX_ENTRIES = 10_000
INVALID = "API key is invalid."


@dataclass(frozen=True)
class _Answer:
    valid: bool
    user_id: str = ""
    api_key_id: str = ""


class ApiKeyVerifier:
    def __init__(self, target: str, *, cache_seconds: float, service_token: str | None = None) -> None:
        self.target = target
        self.cache_seconds = cache_seconds
        self.metadata = (
            (SERVICE_TOKEN_METADATA, settings.AUTH_SERVICE_TOKEN if service_token is None else service_token),
        )
        self._channel = grpc.insecure_channel(target)
        self._stub = auth_pb2_grpc.AuthServiceStub(self._channel)
        self._entries: OrderedDict[str, tuple[float, _Answer]] = OrderedDict()
        self._flights: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.calls = 0  # calls made to the auth service (tests, metrics)

    def close(self) -> None:
        self._channel.close()

    def _cached(self, digest: str) -> _Answer | None:
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        return None

    def _ask(self, key: str) -> _Answer:
        self.calls += 1
        try:
            response = self._stub.VerifyApiKey(
                auth_pb2.VerifyApiKeyRequest(key=key), timeout=2.0, metadata=self.metadata
            )
        except grpc.RpcError as exc:
            logger.warning("api_key_verify_unreachable", target=self.target, code=exc.code().name)
            raise ServiceUnavailable(
                "API keys cannot be verified right now (the auth service is unreachable)."
            ) from exc
        return _Answer(valid=response.valid, user_id=response.user_id, api_key_id=response.api_key_id)

    def answer(self, key: str) -> _Answer:
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            cached = self._cached(digest)
            if cached is not None:
                return cached
            flight = self._flights.setdefault(digest, threading.Lock())
        with flight:  # one call per key at a time; the others find its answer
            with self._lock:
                cached = self._cached(digest)
                if cached is not None:
                    return cached
            try:
                answer = self._ask(key)
            finally:
                with self._lock:
                    self._flights.pop(digest, None)
            with self._lock:
                self._entries[digest] = (time.monotonic() + self.cache_seconds, answer)
                self._entries.move_to_end(digest)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
            return answer

    def verify(self, key: str) -> Principal:
        if len(key) > MAX_KEY_LENGTH:
            raise NotAuthenticated(INVALID)
        answer = self.answer(key)
        if not answer.valid:
            raise NotAuthenticated(INVALID)
        try:
            principal = Principal(
                user_id=uuid.UUID(answer.user_id),
                session_id=uuid.UUID(answer.api_key_id),
                is_staff=False,
                expires_at=NEVER_EXPIRES,
                jti="",
                credential="api_key",
            )
        except ValueError as exc:
            raise NotAuthenticated(INVALID) from exc
        if not session_state_check(principal):  # deleted since it was cached
            raise NotAuthenticated("API key has been deleted.")
        return principal


_verifier: ApiKeyVerifier | None = None
_verifier_lock = threading.Lock()


def api_key_verifier() -> ApiKeyVerifier:
    """This process's verifier (a new one when ``AUTH_GRPC_TARGET`` changed: tests)."""
    global _verifier
    with _verifier_lock:
        if _verifier is None or _verifier.target != settings.AUTH_GRPC_TARGET:
            if _verifier is not None:
                _verifier.close()
            _verifier = ApiKeyVerifier(settings.AUTH_GRPC_TARGET, cache_seconds=settings.AUTHN_API_KEY_CACHE_SECONDS)
        return _verifier


def api_key_verifier_reset() -> None:
    """Tests: forget every cached answer."""
    global _verifier
    with _verifier_lock:
        if _verifier is not None:
            _verifier.close()
        _verifier = None


def api_key_verify(key: str) -> Principal:
    """The chat site's ``AUTHN_API_KEY_VERIFY``."""
    return api_key_verifier().verify(key)
