"""A signed-in user's session: tokens from the token file, refreshed when the access token
has expired, and the chat service's REST API called with them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chatctl.errors import NotSignedIn, SessionExpired
from chatctl.rest import api_error, json_request
from chatctl.tokens import tokens_load, tokens_save

REFRESH_MARGIN_SECONDS = 30


def _expires(value: str | None) -> float:
    try:
        return datetime.fromisoformat(value).timestamp() if value else 0.0
    except ValueError:
        return 0.0


@dataclass
class Endpoints:
    auth_url: str
    chat_url: str
    chat_grpc: str

    @property
    def ws_url(self) -> str:
        scheme, _, rest = self.chat_url.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/ws/chat/"


def auth_post(endpoints: Endpoints, path: str, body: dict, bearer: str | None = None) -> tuple[int, Any]:
    return json_request(
        "POST",
        f"{endpoints.auth_url}/v1/auth/{path}",
        service="auth",
        base_url=endpoints.auth_url,
        body=body,
        bearer=bearer,
    )


class Session:
    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        stored = tokens_load()
        if not stored or not stored.get("tokens"):
            raise NotSignedIn()
        self.stored = stored

    @property
    def user(self) -> dict:
        return self.stored.get("user") or {}

    def access_token(self, *, force_refresh: bool = False) -> str:
        tokens = self.stored["tokens"]
        if force_refresh or _expires(tokens.get("access_expires_at")) - time.time() < REFRESH_MARGIN_SECONDS:
            self.refresh()
        return self.stored["tokens"]["access_token"]

    def refresh(self) -> None:
        """A new token pair for the refresh token; the old refresh token is spent."""
        status, data = auth_post(self.endpoints, "refresh", {"refresh_token": self.stored["tokens"]["refresh_token"]})
        if status in (400, 401):
            raise SessionExpired()
        if status != 200:
            raise api_error(status, data)
        self.stored["tokens"] = data["tokens"]
        tokens_save(self.stored)

    def chat_request(self, method: str, path: str, body: dict | None = None) -> Any:
        for attempt in (1, 2):
            status, data = json_request(
                method,
                f"{self.endpoints.chat_url}/v1/chat/{path}",
                service="chat",
                base_url=self.endpoints.chat_url,
                body=body,
                bearer=self.access_token(force_refresh=attempt == 2),
            )
            if status != 401:
                break
        if status == 401:
            raise SessionExpired()
        if status >= 400:
            raise api_error(status, data)
        return data
