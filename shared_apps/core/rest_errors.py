"""The REST transport's one mapping of errors to ``{"error": {code, message, details}}``."""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from shared_apps.core.errors import ApplicationError, NotAuthenticated, RateLimited

logger = structlog.get_logger(__name__)

DRF_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def application_error_response(exc: ApplicationError) -> Response:
    response = Response(error_body(exc.code, exc.message, exc.details), status=exc.http_status)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, NotAuthenticated):
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        return application_error_response(exc)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database went away (restart, failover, a killed connection): the request did
        # not complete; the next one reconnects. Say so, instead of a bare 500.
        logger.warning("rest_database_unavailable", error=type(exc).__name__)
        response = Response(error_body("unavailable", "The database is unavailable; try again."), status=503)
        response["Retry-After"] = "1"
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", "Request body is too large."), status=413)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = "Invalid input."
        if isinstance(exc.detail, dict) and exc.detail:
            field, problems = next(iter(exc.detail.items()))
            first = problems[0] if isinstance(problems, list) and problems else problems
            message = f"{field}: {first}" if field != "non_field_errors" else str(first)
        response.data = error_body("invalid_argument", message, details)
    else:
        detail = getattr(exc, "detail", str(exc))
        code = DRF_CODES.get(response.status_code, "error")
        response.data = error_body(code, str(detail))
    return response


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def handler404(request, exception=None):  # noqa: ARG001 - Django's signature
    return json_error(status.HTTP_404_NOT_FOUND, "not_found", "Not found.")


def handler500(request):  # noqa: ARG001
    return json_error(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal", "Internal server error.")
