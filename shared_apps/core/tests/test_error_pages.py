"""Unknown paths and unhandled errors answer the APIs' JSON error body on both sites:
``{"error": {"code": "not_found" | "internal", "message": ..., "details": {}}}``, through the
shared handlers of ``shared_apps.core.rest_errors``, with DEBUG off (production) and on
(``bin/up``) alike. The admin and the chat web page (/app/) keep Django's HTML.

This module runs in the auth site's test run; its last test runs it again under the chat
site's settings, in a child pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import get_resolver, include, path
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from shared_apps.core import rest_errors

ROOT = Path(__file__).resolve().parents[3]
SITE_URLCONF = settings.ROOT_URLCONF  # "auth_site.urls" or "chat_site.urls"
CHAT = SITE_URLCONF == "chat_site.urls"
NOT_FOUND = {"error": {"code": "not_found", "message": "Not found.", "details": {}}}

UNKNOWN = [
    "/nope",
    "/nope/deeper/",
    "/v1/",
    "/v1/nope",
    "/v1/chat/nope" if CHAT else "/v1/auth/nope",
    "/.well-known/nope",
    "/favicon.ico",
]


def boom(request):
    raise RuntimeError("an unhandled bug")


class Missing(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise NotFound("No such thing.")


# A URLconf of this module: the site's own patterns and error handlers, plus a view that fails
# and an API view that answers 404 itself.
urlpatterns = [
    path("test-boom", boom),
    path("test-missing", Missing.as_view()),
    path("", include(SITE_URLCONF)),
]
handler404 = import_module(SITE_URLCONF).handler404
handler500 = import_module(SITE_URLCONF).handler500


def assert_json_error(response, status: int, body: dict | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"error"} and set(data["error"]) == {"code", "message", "details"}
    if body is not None:
        assert data == body
    return data


def test_the_site_uses_the_shared_handlers():
    resolver = get_resolver(SITE_URLCONF)
    assert resolver.resolve_error_handler(404) is rest_errors.handler404
    assert resolver.resolve_error_handler(500) is rest_errors.handler500


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize("unknown", UNKNOWN)
def test_an_unknown_path_answers_the_json_not_found_body(client, settings, unknown, debug):
    settings.DEBUG = debug
    # when
    response = client.get(unknown, HTTP_ACCEPT="text/html")  # as a browser asks
    # then
    assert_json_error(response, 404, NOT_FOUND)
    assert response["X-Request-ID"]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_other_methods_on_an_unknown_path_too(client, settings, debug):
    settings.DEBUG = debug
    for method in (client.post, client.put, client.patch, client.delete):
        assert_json_error(method("/v1/nope", {}, content_type="application/json"), 404, NOT_FOUND)


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_an_api_view_404_keeps_its_own_message(client, settings, debug):
    # A path that resolves to an API view answering 404 itself is not rewritten.
    settings.DEBUG = debug
    settings.ROOT_URLCONF = __name__
    response = client.get("/test-missing")
    assert_json_error(response, 404, {"error": {"code": "not_found", "message": "No such thing.", "details": {}}})


def test_an_unhandled_error_answers_the_json_internal_body(client, settings):
    # given: the site's handlers with a view that raises
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    # when
    response = client.get("/test-boom")
    # then
    data = assert_json_error(response, 500)
    assert data["error"]["code"] == "internal"
    assert "an unhandled bug" not in response.content.decode()
    # and the site's other paths still work through this URLconf
    assert_json_error(client.get("/v1/nope"), 404, NOT_FOUND)


def test_the_admin_keeps_html_with_debug_on(client, settings):
    settings.DEBUG = True
    response = client.get("/admin/nope/", follow=True)  # to the login page: HTML
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.skipif(not CHAT, reason="the chat site's web page")
def test_the_web_page_keeps_html_with_debug_on(client, settings):
    settings.DEBUG = True
    response = client.get("/app/nope")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.skipif(CHAT, reason="this is the run under the chat site's settings")
def test_the_same_on_the_chat_site():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-rA", "--ds=chat_site.settings.test", __file__],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    here = f"PASSED {Path(__file__).relative_to(ROOT)}::"
    assert f"{here}test_the_web_page_keeps_html_with_debug_on" in done.stdout
    assert f"{here}test_an_unhandled_error_answers_the_json_internal_body" in done.stdout
