"""HTTP middleware: return the correlation id to the client; JSON 404s in development too.

django-structlog's ``RequestMiddleware`` (listed before ``RequestIdResponseMiddleware``) takes
``X-Request-ID`` from the request or makes one and binds it; ``RequestIdResponseMiddleware``
echoes it in the response.
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


class ResponseMiddleware:
    """A middleware that may act before the view and then rewrites its response, in a sync and
    an async stack alike (Django picks the form; subclasses write ``before`` and ``after`` once)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        self.before(request)
        return self.after(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self.before(request)
        return self.after(request, await self.get_response(request))

    def before(self, request: HttpRequest) -> None:
        pass

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response


class RequestIdResponseMiddleware(ResponseMiddleware):
    def before(self, request: HttpRequest) -> None:
        _request_id_sanitize()

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        request_id = current_request_id()
        if request_id:
            response["X-Request-ID"] = request_id
        return response


# Paths whose pages are HTML for people (the admin; the chat site's web page): their 404s stay
# Django's. Every other path is the API's, whose errors are JSON.
HTML_PATH_PREFIXES = ("/admin/", "/app/")


class JsonNotFoundMiddleware(ResponseMiddleware):
    """An unknown path answers the API's JSON error body, with DEBUG on as with DEBUG off.

    With DEBUG off, Django answers a 404 with the site's ``handler404``
    (``shared_apps.core.rest_errors.handler404``, already JSON). With DEBUG on (``bin/up``,
    ``*.settings.local``) it answers its HTML debug page instead and ignores ``handler404``; this
    replaces that page with the same JSON body outside ``HTML_PATH_PREFIXES``. JSON 404s (DRF
    views, ``handler404``) pass through untouched.
    """

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path.startswith(HTML_PATH_PREFIXES)
        ):
            from shared_apps.core.rest_errors import handler404

            return handler404(request)
        return response
