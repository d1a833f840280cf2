"""DRF authentication with the shared verifier (``credential_verify``: access tokens, and API
keys where the site accepts them)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from shared_apps.authn.verify import Principal, bearer_token, credential_verify
from shared_apps.core.errors import NotAuthenticated


class AccessTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Principal, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        token = bearer_token(header)
        if token is None:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <access token or API key>'.")
        try:
            return credential_verify(token), token
        except NotAuthenticated as exc:
            raise exceptions.AuthenticationFailed(exc.message) from exc

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class AccessTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = AccessTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
