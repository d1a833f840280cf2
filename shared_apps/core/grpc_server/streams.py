"""What every server stream of a signed-in caller gets, once for all streams of a site.

* A cap per user: at most ``GRPC_MAX_STREAMS_PER_USER`` open streams per user in this process
  (0: no cap); past it the call is refused at once with RESOURCE_EXHAUSTED, before the
  servicer takes one of the server's ``GRPC_MAX_STREAMS`` slots.
* A session that ends ends the stream: the bearer token is verified once, when the call starts
  (``AccessTokenInterceptor``), but a stream may stay open for hours. While it runs its
  session is re-checked (expiry, then the site's session-state check, on the chat site the
  revocation feed: a set lookup), and a signed-out, revoked or deactivated session or an
  expired token ends it with UNAUTHENTICATED within a second, as a websocket is closed 4401.
  (UNAVAILABLE if sessions cannot be verified at all, the auth service unreachable for too long.)

The check runs between two messages and, while a stream waits for its next message, through
``context.is_active()``: for the stream's length it also answers False once the session has
ended, so a stream waiting in ``async_bridge.iterate_sync`` (which polls it) stops waiting, and
the stream then ends with the session's error. A stream that waits elsewhere must poll
``context.is_active()`` too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
from django.conf import settings

from shared_apps.authn.grpc_auth import context_principal_optional
from shared_apps.authn.verify import Principal, session_state_check
from shared_apps.core.errors import ApplicationError, NotAuthenticated, RateLimited, ServiceUnavailable
from shared_apps.core.grpc_server.handlers import Behaviour, wrap_handler
from shared_apps.core.slots import PerUserSlots

SESSION_CHECK_SECONDS = 0.1  # at most this often per stream; a check is a clock read and a set lookup

stream_slots = PerUserSlots()


class SessionGuard:
    """Whether a principal's session is still live, checked at most every SESSION_CHECK_SECONDS."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._checked_at = float("-inf")
        self._ended: ApplicationError | None = None

    def ended(self) -> ApplicationError | None:
        """None while the session is live, else the error to end the stream with (for good)."""
        now = time.monotonic()
        if self._ended is None and now - self._checked_at >= SESSION_CHECK_SECONDS:
            self._checked_at = now
            if self.principal.expires_at.timestamp() <= time.time():
                self._ended = NotAuthenticated("The access token expired; sign in again.")
            else:
                try:
                    if not session_state_check(self.principal):
                        self._ended = NotAuthenticated("Session has ended; sign in again.")
                except ServiceUnavailable as exc:
                    self._ended = exc
        return self._ended

    def raise_if_ended(self) -> None:
        error = self.ended()
        if error is not None:
            raise error


def _guarded(behaviour: Behaviour, request: Any, context: grpc.ServicerContext, principal: Principal) -> Iterator:
    limit = getattr(settings, "GRPC_MAX_STREAMS_PER_USER", 0)
    if not stream_slots.acquire(principal.user_id, limit):
        raise RateLimited(f"At most {limit} open streams per user; close one first.", retry_after=1)
    guard = SessionGuard(principal)
    client_active = context.is_active
    context.is_active = lambda: client_active() and guard.ended() is None  # type: ignore[method-assign]
    responses = None
    try:
        guard.raise_if_ended()
        responses = behaviour(request, context)
        for response in responses:
            guard.raise_if_ended()
            yield response
        guard.raise_if_ended()  # the stream may have stopped waiting because the session ended
    finally:
        context.is_active = client_active  # type: ignore[method-assign]
        close = getattr(responses, "close", None)
        if close is not None:
            close()  # its own clean-up (a stream slot, the reply reader) now, not at collection
        stream_slots.release(principal.user_id)


class StreamGuardInterceptor(grpc.ServerInterceptor):
    """The per-user cap and the session re-check of every server stream (see the module).
    Innermost: it needs the principal ``AccessTokenInterceptor`` attached; its errors are
    mapped by ``ErrorMappingInterceptor``. Unary calls and anonymous streams pass untouched."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)

        def around(behaviour, request, context, streaming):
            principal = context_principal_optional(context) if streaming else None
            if principal is None:
                return behaviour(request, context)
            return _guarded(behaviour, request, context, principal)

        return wrap_handler(handler, around)
