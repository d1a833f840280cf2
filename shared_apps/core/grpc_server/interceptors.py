"""Server interceptors shared by both gRPC servers: correlation ids, logging, error mapping.

Order in ``grpcserve`` (outermost first): correlation id, logging, error mapping,
authentication (``shared_apps.authn.grpc_auth``). Each wraps the method handler's
behaviour, including the iteration of streaming responses.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import grpc
import structlog
from django.db import DatabaseError, InterfaceError, OperationalError

from shared_apps.core.errors import ApplicationError, RateLimited
from shared_apps.core.grpc_server.handlers import call_observed, iterate_around, lazy_stream, wrap_handler

logger = structlog.get_logger("grpc")

REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Methods that clients call on a timer: every chat process polls the auth service's revocation
# feed (AUTHN_REVOCATION_POLL_SECONDS, 0.25 s) and orchestrators poll health. A successful call of
# one of them is logged at debug; a failed one, or one slower than POLLING_SLOW_MS, at its usual level.
POLLING_METHODS = frozenset(
    {
        "/auth.AuthService/ListRevokedSessions",
        "/grpc.health.v1.Health/Check",
        "/auth.service.health.v1.Health/Check",
    }
)
POLLING_SLOW_MS = 500.0


def metadata_value(details_or_context: Any, key: str) -> str | None:
    metadata = (
        details_or_context.invocation_metadata()
        if callable(getattr(details_or_context, "invocation_metadata", None))
        else details_or_context.invocation_metadata
    )
    for k, v in metadata or ():
        if k == key:
            return v
    return None


class CorrelationIdInterceptor(grpc.ServerInterceptor):
    """Takes ``x-request-id`` from metadata (or makes one), binds it to every log line of
    the call and returns it to the client in the initial metadata."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        given = metadata_value(handler_call_details, "x-request-id")
        request_id = given if given and REQUEST_ID_OK.match(given) else str(uuid.uuid4())
        method = handler_call_details.method

        def before(context: grpc.ServicerContext) -> None:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=request_id, rpc=method)
            context.send_initial_metadata((("x-request-id", request_id),))

        def around(behaviour, request, context, streaming):
            if streaming:
                return iterate_around(
                    lazy_stream(behaviour, request, context),
                    lambda: before(context),
                    lambda _e: structlog.contextvars.clear_contextvars(),
                )
            before(context)
            try:
                return behaviour(request, context)
            finally:
                structlog.contextvars.clear_contextvars()

        return wrap_handler(handler, around)


class LoggingInterceptor(grpc.ServerInterceptor):
    """One ``rpc_finished`` line per call with its status code and duration: warning for
    INTERNAL/UNKNOWN, info otherwise, debug for a fast successful call of a polling method."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        polling = handler_call_details.method in POLLING_METHODS

        def finish(context: grpc.ServicerContext, started: float, error: BaseException | None) -> None:
            code = context.code() if callable(getattr(context, "code", None)) else None
            if code is None:
                code = grpc.StatusCode.UNKNOWN if error is not None else grpc.StatusCode.OK
            if code is grpc.StatusCode.OK and not context.is_active() and error is None:
                code = grpc.StatusCode.CANCELLED if _cancelled(context) else code
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                level = "warning"
            elif polling and code is grpc.StatusCode.OK and duration_ms < POLLING_SLOW_MS:
                level = "debug"
            else:
                level = "info"
            getattr(logger, level)("rpc_finished", code=code.name, duration_ms=duration_ms)

        def around(behaviour, request, context, streaming):
            started = time.perf_counter()
            return call_observed(behaviour, request, context, streaming, lambda e: finish(context, started, e))

        return wrap_handler(handler, around)


def _cancelled(context: grpc.ServicerContext) -> bool:
    try:
        return context.cancelled()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return False


def _aborted(context: grpc.ServicerContext) -> bool:
    code = context.code() if callable(getattr(context, "code", None)) else None
    return code is not None and code is not grpc.StatusCode.OK


def abort_with(context: grpc.ServicerContext, exc: BaseException) -> None:
    """The gRPC transport's one mapping of errors to status codes."""
    if isinstance(exc, ApplicationError):
        if isinstance(exc, RateLimited):
            context.set_trailing_metadata((("retry-after", str(exc.retry_after)),))
        context.abort(exc.grpc_status, exc.message)
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("rpc_database_unavailable", error=type(exc).__name__)
        context.abort(grpc.StatusCode.UNAVAILABLE, "The database is unavailable; try again.")
    if isinstance(exc, DatabaseError):
        logger.exception("rpc_database_error")
        context.abort(grpc.StatusCode.INTERNAL, "Internal error.")
    logger.exception("rpc_unhandled_error", error=type(exc).__name__)
    context.abort(grpc.StatusCode.INTERNAL, "Internal error.")


class ErrorMappingInterceptor(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)

        def stream(behaviour, request, context):
            try:
                yield from behaviour(request, context)
            except Exception as exc:  # noqa: BLE001
                if _aborted(context):
                    raise
                abort_with(context, exc)

        def around(behaviour, request, context, streaming):
            if streaming:
                return stream(behaviour, request, context)
            try:
                return behaviour(request, context)
            except Exception as exc:  # noqa: BLE001
                if _aborted(context):
                    raise
                abort_with(context, exc)

        return wrap_handler(handler, around)
