"""The auth site lets the chat page's origin call /v1/auth/* from a browser, and nothing else."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest


def preflight(url: str, origin: str) -> dict[str, str]:
    request = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization",
        },
    )
    with urllib.request.urlopen(request) as response:
        return {k.lower(): v for k, v in response.headers.items()}


@pytest.mark.parametrize("path", ["signin", "signup", "refresh", "signout"])
def test_the_chat_page_origin_may_call_the_auth_endpoints(stack, path):
    headers = preflight(f"{stack.auth_url}/v1/auth/{path}", stack.origin)
    assert headers["access-control-allow-origin"] == stack.origin
    assert "authorization" in headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in headers


def test_other_origins_and_other_paths_get_no_cors_headers(stack):
    assert "access-control-allow-origin" not in preflight(f"{stack.auth_url}/v1/auth/signin", "http://evil.example")
    try:
        headers = preflight(f"{stack.auth_url}/v1/users", stack.origin)
    except urllib.error.HTTPError as exc:
        headers = {k.lower(): v for k, v in exc.headers.items()}
    assert "access-control-allow-origin" not in headers
