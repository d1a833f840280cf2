"""gRPC transport of the auth service (``auth.AuthService``), over the same service layer
as REST. Errors are mapped once, by ``ErrorMappingInterceptor``."""

from __future__ import annotations

import grpc
from django_grpc_framework.services import Service

from protos import auth_pb2
from shared_apps.accounts import api_keys, selectors, services
from shared_apps.accounts.grpc_api.mfa_api_keys import MfaApiKeysMethods, signin_message
from shared_apps.accounts.models import User
from shared_apps.accounts.selectors import SessionSummary
from shared_apps.accounts.services import ClientInfo, IssuedTokens
from shared_apps.authn.grpc_auth import context_principal, context_principal_optional, service_caller_require
from shared_apps.core.errors import ValidationFailed
from shared_apps.core.grpc_server.mappers import from_timestamp, timestamp


def user_message(user: User) -> auth_pb2.User:
    return auth_pb2.User(
        id=str(user.id),
        name=user.name,
        email=user.email,
        created_at=timestamp(user.created_at),
        updated_at=timestamp(user.updated_at),
        email_verified=user.email_verified,
    )


def tokens_message(tokens: IssuedTokens) -> auth_pb2.UserToken:
    return auth_pb2.UserToken(
        id=str(tokens.session_id),
        user_id=str(tokens.user_id),
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        access_expires_at=timestamp(tokens.access_expires_at),
        refresh_expires_at=timestamp(tokens.refresh_expires_at),
        is_revoked=False,
        created_at=timestamp(tokens.created_at),
    )


def session_message(session: SessionSummary) -> auth_pb2.Session:
    return auth_pb2.Session(
        id=str(session.id),
        created_at=timestamp(session.created_at),
        last_used_at=timestamp(session.last_used_at),
        ip=session.ip or "",
        user_agent=session.user_agent,
        current=session.current,
    )


def client_info(context: grpc.ServicerContext) -> ClientInfo:
    peer = context.peer() or ""  # "ipv4:127.0.0.1:5555" / "ipv6:[::1]:5555"
    host = peer.split(":", 1)[1].rsplit(":", 1)[0].strip("[]") if ":" in peer else None
    agent = dict(context.invocation_metadata()).get("user-agent", "")
    return ClientInfo(ip_address=host or None, user_agent=agent[:256])


class AuthService(MfaApiKeysMethods, Service):
    def client_info(self, context: grpc.ServicerContext) -> ClientInfo:
        return client_info(context)

    def auth_response(self, result: services.AuthResult) -> auth_pb2.AuthResponse:
        return auth_pb2.AuthResponse(user=user_message(result.user), tokens=tokens_message(result.tokens))

    def SignUp(self, request, context):  # noqa: N802 - gRPC method names
        result = services.user_create(
            name=request.name, email=request.email, password=request.password, client=client_info(context)
        )
        return auth_pb2.AuthResponse(user=user_message(result.user), tokens=tokens_message(result.tokens))

    def SignIn(self, request, context):  # noqa: N802
        result = services.user_signin(email=request.email, password=request.password, client=client_info(context))
        return signin_message(result, self.auth_response)

    def SignOut(self, request, context):  # noqa: N802
        # The seed sends the token in the body; a bearer token in metadata works too.
        services.session_signout(caller=context_principal_optional(context), access_token=request.access_token or None)
        return auth_pb2.Empty()

    def RefreshToken(self, request, context):  # noqa: N802
        tokens = services.session_refresh(refresh_token=request.refresh_token)
        return auth_pb2.TokenResponse(tokens=tokens_message(tokens))

    def RevokeToken(self, request, context):  # noqa: N802
        services.session_revoke(access_token=request.access_token)
        return auth_pb2.Empty()

    def ValidateToken(self, request, context):  # noqa: N802
        result = services.token_validate(token=request.token)
        return auth_pb2.ValidateTokenResponse(
            user_id=result.user_id, valid=result.valid, error_message=result.error_message, session_id=result.session_id
        )

    def ListUsers(self, request, context):  # noqa: N802
        page = selectors.user_list(actor=context_principal(context), page=request.page, limit=request.limit)
        return auth_pb2.ListUsersResponse(
            users=[user_message(u) for u in page.users], total=page.total, page=page.page, limit=page.limit
        )

    def ListRevokedSessions(self, request, context):  # noqa: N802
        service_caller_require(context)  # the chat service's feed, not a client's
        try:
            since = from_timestamp(request.since, present=request.HasField("since"))
        except ValueError as exc:  # a Timestamp outside years 1-9999
            raise ValidationFailed("since: Not a valid timestamp.", details={"since": ["Out of range."]}) from exc
        if since is not None and since.year < 1970:  # a cursor is a recent time (year 1 overflowed the feed)
            raise ValidationFailed("since: Not a valid cursor.", details={"since": ["Before 1970."]})
        feed = selectors.revoked_sessions_since(since=since)
        keys = api_keys.revoked_api_keys_since(since=since)  # accounts: two-factor, API keys
        return auth_pb2.ListRevokedSessionsResponse(
            session_ids=feed.session_ids, cursor=timestamp(feed.cursor), api_key_ids=keys
        )

    # accounts: password, email, sessions

    def ChangePassword(self, request, context):  # noqa: N802
        services.user_password_change(
            caller=context_principal(context),
            current_password=request.current_password,
            new_password=request.new_password,
            client=client_info(context),
        )
        return auth_pb2.Empty()

    def RequestPasswordReset(self, request, context):  # noqa: N802
        services.password_reset_request(email=request.email, client=client_info(context))
        return auth_pb2.Empty()

    def ConfirmPasswordReset(self, request, context):  # noqa: N802
        services.password_reset_confirm(
            token=request.token, new_password=request.new_password, client=client_info(context)
        )
        return auth_pb2.Empty()

    def VerifyEmail(self, request, context):  # noqa: N802
        services.user_email_verify(token=request.token)
        return auth_pb2.Empty()

    def ResendVerificationEmail(self, request, context):  # noqa: N802
        services.user_verification_resend(caller=context_principal(context), client=client_info(context))
        return auth_pb2.Empty()

    def ListSessions(self, request, context):  # noqa: N802
        sessions = selectors.user_session_list(caller=context_principal(context))
        return auth_pb2.ListSessionsResponse(sessions=[session_message(s) for s in sessions])

    def EndSession(self, request, context):  # noqa: N802
        services.user_session_end(caller=context_principal(context), session_id=request.session_id)
        return auth_pb2.Empty()
