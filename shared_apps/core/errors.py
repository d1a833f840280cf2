"""Domain errors raised by the service layer.

Each carries a stable ``code``, the HTTP status and the gRPC status it maps to.
Every transport maps them once (``rest_errors``, the gRPC ``ErrorMappingInterceptor`` in
``grpc_server.interceptors``, the websocket consumers' error frames); services never know
which transport called them.
"""

from __future__ import annotations

from typing import Any

import grpc


class ApplicationError(Exception):
    code = "error"
    http_status = 400
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(ApplicationError):
    code = "invalid_argument"


class PayloadTooLarge(ApplicationError):
    code = "payload_too_large"
    http_status = 413


class NotAuthenticated(ApplicationError):
    code = "unauthenticated"
    http_status = 401
    grpc_status = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    http_status = 403
    grpc_status = grpc.StatusCode.PERMISSION_DENIED


class EmailNotVerified(PermissionDenied):
    """The account's email address is not verified and the site requires it (sign-in, refresh)."""

    code = "email_not_verified"


class NotFound(ApplicationError):
    code = "not_found"
    http_status = 404
    grpc_status = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ApplicationError):
    code = "already_exists"
    http_status = 409
    grpc_status = grpc.StatusCode.ALREADY_EXISTS


class RateLimited(ApplicationError):
    code = "rate_limited"
    http_status = 429
    grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"retry_after": retry_after, **(details or {})})
        self.retry_after = retry_after


class UpstreamError(ApplicationError):
    """The model API answered with an error or broke off."""

    code = "upstream_error"
    http_status = 502
    grpc_status = grpc.StatusCode.UNAVAILABLE


class UpstreamTimeout(ApplicationError):
    code = "upstream_timeout"
    http_status = 504
    grpc_status = grpc.StatusCode.DEADLINE_EXCEEDED


class ServiceUnavailable(ApplicationError):
    """A dependency we need (no usable model provider, the revocation feed) is unavailable."""

    code = "unavailable"
    http_status = 503
    grpc_status = grpc.StatusCode.UNAVAILABLE


class ReplyInterrupted(ServiceUnavailable):
    """The process producing a reply stopped (killed, crashed) before the reply ended."""

    code = "reply_interrupted"
