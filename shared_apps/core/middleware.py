"""HTTP middleware: return the correlation id to the client; JSON 404s in development too.

django-structlog's ``RequestMiddleware`` takes ``X-Request-ID`` (and ``X-Correlation-ID``) from
the request or makes one and binds it to every log line, starting with ``request_started``;
``UpstreamIdsCheckMiddleware``, listed before it, drops a header value that is not short and
plain, so no client-written text reaches a log line through them; ``RequestIdResponseMiddleware``
echoes the id in the response.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

# The same rule as the gRPC interceptor's: an id we echo and log must be short and plain.
REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


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


# The ids django-structlog trusts from the client (DJANGO_STRUCTLOG_TRUST_UPSTREAM_*).
UPSTREAM_ID_HEADERS = ("HTTP_X_REQUEST_ID", "HTTP_X_CORRELATION_ID")


class UpstreamIdsCheckMiddleware(ResponseMiddleware):
    """Before django-structlog's middleware: an id header that breaks ``REQUEST_ID_OK`` (a
    newline, quotes, kilobytes) is dropped, so a fresh id is made instead and nothing the client
    wrote reaches the log lines (``request_started`` included) or the model API's request."""

    def before(self, request: HttpRequest) -> None:
        for header in UPSTREAM_ID_HEADERS:
            value = request.META.get(header)
            if value is not None and not REQUEST_ID_OK.match(value):
                del request.META[header]


class RequestIdResponseMiddleware(ResponseMiddleware):
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
