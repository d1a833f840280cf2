"""Channels middleware: verify an ``Authorization: Bearer`` header on the websocket handshake.

It never rejects the handshake itself: the consumer accepts and then closes with 4401
(a close code a browser can see; a refused handshake is an opaque 403), or waits for the
first-frame ``auth`` that browsers use, since they cannot set headers on a websocket.
Tokens are never read from the URL.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from channels.middleware import BaseMiddleware

from shared_apps.authn.verify import Principal, bearer_token, credential_verify
from shared_apps.core.errors import NotAuthenticated, ServiceUnavailable


async def credential_verify_async(token: str) -> Principal:
    # Off the loop: the first check in a process may wait for the revocation feed's first sync,
    # and an API key's first use asks the auth service.
    return await sync_to_async(credential_verify, thread_sensitive=False)(token)


class AccessTokenWebsocketMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        scope = dict(scope, principal=None, auth_error=None)
        header = None
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                header = value.decode("latin-1")
        if header is not None:
            token = bearer_token(header)
            if token is None:
                scope["auth_error"] = "Authorization header must be 'Bearer <access token or API key>'."
            else:
                try:
                    scope["principal"] = await credential_verify_async(token)
                except (NotAuthenticated, ServiceUnavailable) as exc:
                    scope["auth_error"] = exc.message
        return await super().__call__(scope, receive, send)
