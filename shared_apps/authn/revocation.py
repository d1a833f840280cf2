"""How a verifying service (the chat service) learns that sessions have ended (and API keys
were deleted: the feed lists their ids beside the sessions', and they are refused alike).

Each process keeps the set of ended sessions in memory and refreshes it from the auth
service's ``ListRevokedSessions`` feed every ``AUTHN_REVOCATION_POLL_SECONDS`` (0.25 s by
default): one small gRPC call per process per interval, however many requests it serves,
and a session ended at the auth service is refused here within one second on every
transport. Checking a token costs a set lookup.

When the auth service is unreachable the set keeps its last state and polling goes on;
tokens are still accepted until the knowledge is ``AUTHN_REVOCATION_MAX_STALENESS``
seconds old (30 s), then refused with 503/UNAVAILABLE ("fail closed") until a poll
succeeds again. Redis is not involved, so a Redis outage does not affect authentication.
"""

from __future__ import annotations

import threading
import time
import uuid

import grpc
import structlog
from django.conf import settings
from google.protobuf.timestamp_pb2 import Timestamp

from protos import auth_pb2, auth_pb2_grpc
from shared_apps.authn.grpc_auth import SERVICE_TOKEN_METADATA
from shared_apps.core.errors import ServiceUnavailable

logger = structlog.get_logger(__name__)

FIRST_SYNC_WAIT_SECONDS = 3.0


class RevocationFeed:
    def __init__(
        self,
        target: str,
        *,
        poll_seconds: float,
        max_staleness: float,
        forget_after: float,
        service_token: str | None = None,
    ) -> None:
        self.target = target
        # The feed answers only the chat service: it sends AUTH_SERVICE_TOKEN with every poll.
        self.metadata = (
            (SERVICE_TOKEN_METADATA, settings.AUTH_SERVICE_TOKEN if service_token is None else service_token),
        )
        self.poll_seconds = poll_seconds
        self.max_staleness = max_staleness
        self.forget_after = forget_after
        # session id (or deleted API key id) -> monotonic time after which to forget it
        self._revoked: dict[str, float] = {}
        self._cursor: Timestamp | None = None
        self._last_success: float | None = None
        self._first_sync = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failures = 0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="revocation-feed", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        channel = grpc.insecure_channel(self.target)
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        try:
            while not self._stop.is_set():
                self.poll_once(stub)
                self._stop.wait(self.poll_seconds)
        finally:
            channel.close()

    def poll_once(self, stub: auth_pb2_grpc.AuthServiceStub) -> None:
        request = auth_pb2.ListRevokedSessionsRequest()
        if self._cursor is not None:
            request.since.CopyFrom(self._cursor)
        try:
            response = stub.ListRevokedSessions(
                request, timeout=max(1.0, self.poll_seconds * 4), metadata=self.metadata
            )
        except grpc.RpcError as exc:
            self._failures += 1
            if self._failures in (1, 10) or self._failures % 100 == 0:
                logger.warning(
                    "revocation_feed_unreachable",
                    target=self.target,
                    code=exc.code().name,
                    failures=self._failures,
                    **(
                        {"hint": "AUTH_SERVICE_TOKEN differs between the chat and auth services"}
                        if exc.code() is grpc.StatusCode.UNAUTHENTICATED
                        else {}
                    ),
                )
            return
        now = time.monotonic()
        forget_at = now + self.forget_after
        revoked = dict(self._revoked)
        for session_id in response.session_ids:
            revoked[session_id] = forget_at
        for api_key_id in response.api_key_ids:  # deleted API keys end like sessions (their id)
            revoked[api_key_id] = forget_at
        self._revoked = {k: v for k, v in revoked.items() if v > now}
        self._cursor = response.cursor
        self._last_success = now
        if self._failures:
            logger.info("revocation_feed_recovered", failures=self._failures)
            self._failures = 0
        self._first_sync.set()

    # -- queries -------------------------------------------------------------------------
    def is_revoked(self, session_id: uuid.UUID | str) -> bool:
        self.start()
        if self._last_success is None:
            self._first_sync.wait(FIRST_SYNC_WAIT_SECONDS)
        last = self._last_success
        if last is None or time.monotonic() - last > self.max_staleness:
            raise ServiceUnavailable("Sessions cannot be verified right now (the auth service is unreachable).")
        return str(session_id) in self._revoked


_feed: RevocationFeed | None = None
_feed_lock = threading.Lock()


def revocation_feed() -> RevocationFeed:
    global _feed
    if _feed is None:
        with _feed_lock:
            if _feed is None:
                _feed = RevocationFeed(
                    settings.AUTH_GRPC_TARGET,
                    poll_seconds=settings.AUTHN_REVOCATION_POLL_SECONDS,
                    max_staleness=settings.AUTHN_REVOCATION_MAX_STALENESS,
                    # Past a token's life, and past the time an API key's answer is cached.
                    forget_after=max(
                        settings.JWT_ACCESS_TTL.total_seconds() + settings.JWT_LEEWAY_SECONDS,
                        getattr(settings, "AUTHN_API_KEY_CACHE_SECONDS", 0),
                    )
                    + 60,
                )
    return _feed


def revocation_feed_reset() -> None:
    """Tests: forget the process's feed (e.g. after pointing AUTH_GRPC_TARGET elsewhere)."""
    global _feed
    with _feed_lock:
        if _feed is not None:
            _feed.stop()
        _feed = None


def revocation_feed_start() -> None:
    revocation_feed().start()


def session_is_active(session_id: uuid.UUID, user_id: uuid.UUID) -> bool:  # noqa: ARG001 - the check's signature
    """The chat site's session-state check for the shared verifier."""
    return not revocation_feed().is_revoked(session_id)
