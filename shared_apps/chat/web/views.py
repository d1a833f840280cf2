"""The web chat page and its assets.

The page is a shell: all it knows from the server is where the auth service is
(``CHAT_AUTH_PUBLIC_URL``); everything else is the public REST and websocket contract, spoken by
``static/chat/app.js``. The assets are served here rather than under ``STATIC_URL`` because the
chat site runs under uvicorn/gunicorn, which serve no static files; they are small, and a front
proxy may still serve the collected copies (``collectstatic`` picks them up as ``chat/...``).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from django.views.static import serve

ASSET_DIR = Path(__file__).resolve().parent.parent / "static" / "chat"


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def chat_page_csp(request: HttpRequest) -> str:
    """A strict policy: our own script and style only, nothing inline, no plugins, no framing;
    network only to this site (REST, websocket) and the auth service."""
    host = request.get_host()
    auth_origin = _origin_of(settings.CHAT_AUTH_PUBLIC_URL)
    ws_scheme = "wss" if request.is_secure() else "ws"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {auth_origin} {ws_scheme}://{host}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ]
    )


@require_safe
def chat_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "chat/app.html", {"auth_url": settings.CHAT_AUTH_PUBLIC_URL.rstrip("/")})
    response["Content-Security-Policy"] = chat_page_csp(request)
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def chat_page_asset(request: HttpRequest, path: str) -> HttpResponse:
    response = serve(request, path, document_root=str(ASSET_DIR))
    response["Cache-Control"] = "no-cache"
    return response
