"""JSON over HTTP with the standard library, and the platform's error shape."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from chatctl.errors import ApiError, ServiceUnreachable

TIMEOUT_SECONDS = 15


def json_request(
    method: str, url: str, *, service: str, base_url: str, body: dict | None = None, bearer: str | None = None
) -> tuple[int, Any]:
    """(status, parsed body) for any HTTP answer; ``ServiceUnreachable`` when there is none."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceUnreachable(service, base_url, getattr(exc, "reason", exc)) from exc
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def api_error(status: int, data: Any) -> ApiError:
    error = (data or {}).get("error") if isinstance(data, dict) else None
    error = error or {}
    return ApiError(status, error.get("code") or f"http_{status}", error.get("message") or "request failed")
