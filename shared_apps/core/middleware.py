"""HTTP middleware: return the correlation id to the client.

django-structlog's ``RequestMiddleware`` (listed before this one) takes ``X-Request-ID``
from the request or makes one and binds it; this echoes it in the response.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

# The same rule as the gRPC interceptor's: an id we echo and log must be short and plain.
REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


def _request_id_sanitize() -> None:
    request_id = current_request_id()
    if request_id is not None and not REQUEST_ID_OK.match(request_id):
        structlog.contextvars.bind_contextvars(request_id=str(uuid.uuid4()))


class RequestIdResponseMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        _request_id_sanitize()
        return self._tag(self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        _request_id_sanitize()
        return self._tag(await self.get_response(request))

    @staticmethod
    def _tag(response: HttpResponse) -> HttpResponse:
        request_id = current_request_id()
        if request_id:
            response["X-Request-ID"] = request_id
        return response
