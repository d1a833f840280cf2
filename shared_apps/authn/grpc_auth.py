"""gRPC authentication with the shared verifier: ``authorization: Bearer <token>`` metadata;
and the service credential that service-to-service methods require (``x-service-token``)."""

from __future__ import annotations

import hmac

import grpc
from django.conf import settings

from shared_apps.authn.verify import Principal, bearer_token, credential_verify
from shared_apps.core.errors import NotAuthenticated
from shared_apps.core.grpc_server.handlers import wrap_handler
from shared_apps.core.grpc_server.interceptors import metadata_value

ALWAYS_PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.", "/auth.service.health.v1.")
_PRINCIPAL_ATTR = "_chat_ai_principal"


def context_principal(context: grpc.ServicerContext) -> Principal:
    """The principal the interceptor verified for this call."""
    principal = getattr(context, _PRINCIPAL_ATTR, None)
    if principal is None:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, "Authentication required.")
    return principal


def context_principal_optional(context: grpc.ServicerContext) -> Principal | None:
    return getattr(context, _PRINCIPAL_ATTR, None)


SERVICE_TOKEN_METADATA = "x-service-token"


def service_token_metadata() -> tuple[tuple[str, str], ...]:
    """What a calling service (the chat service's revocation feed) sends."""
    return ((SERVICE_TOKEN_METADATA, settings.AUTH_SERVICE_TOKEN),)


def service_caller_require(context: grpc.ServicerContext) -> None:
    """Refuse the call unless it carries ``AUTH_SERVICE_TOKEN`` (compared in constant time)."""
    presented = metadata_value(context, SERVICE_TOKEN_METADATA) or ""
    expected = settings.AUTH_SERVICE_TOKEN
    if not (expected and hmac.compare_digest(presented.encode(), expected.encode())):
        raise NotAuthenticated(f"A valid service credential ('{SERVICE_TOKEN_METADATA}' metadata) is required.")


class AccessTokenInterceptor(grpc.ServerInterceptor):
    """Verifies the bearer token of every non-public method before the servicer runs.
    On public methods a valid token is still attached when one is sent."""

    def __init__(self, public_methods: set[str] | frozenset[str] = frozenset()) -> None:
        self.public_methods = frozenset(public_methods)

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(ALWAYS_PUBLIC_PREFIXES):
            return handler
        public = method in self.public_methods
        token = bearer_token(metadata_value(handler_call_details, "authorization"))

        def around(behaviour, request, context, streaming):
            if token is None and not public:
                context.abort(
                    grpc.StatusCode.UNAUTHENTICATED, "Missing 'authorization: Bearer <access token or API key>'."
                )
            if token is not None:
                try:
                    setattr(context, _PRINCIPAL_ATTR, credential_verify(token))
                except NotAuthenticated as exc:
                    if not public:
                        context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
            return behaviour(request, context)

        return wrap_handler(handler, around)
