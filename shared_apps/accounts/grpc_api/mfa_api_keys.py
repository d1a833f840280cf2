"""gRPC methods of ``auth.AuthService`` for two-factor sign-in and API keys (a mixin of the
servicer). Each parses, calls one service function and renders; errors are mapped once."""

from __future__ import annotations

from protos import auth_pb2
from shared_apps.accounts import api_keys, mfa
from shared_apps.accounts.models import ApiKey
from shared_apps.accounts.services import AuthResult
from shared_apps.authn.grpc_auth import context_principal, service_caller_require
from shared_apps.core.grpc_server.mappers import timestamp


def api_key_message(api_key: ApiKey, *, key: str = "") -> auth_pb2.ApiKey:
    message = auth_pb2.ApiKey(
        id=str(api_key.id), name=api_key.name, key=key, prefix=api_key.prefix, created_at=timestamp(api_key.created_at)
    )
    if api_key.last_used_at is not None:
        message.last_used_at.CopyFrom(timestamp(api_key.last_used_at))
    return message


def signin_message(result: AuthResult | mfa.MfaRequired, render) -> auth_pb2.AuthResponse:
    """SignIn's answer: the user and tokens, or (two-factor) only ``mfa_required`` and the token."""
    if isinstance(result, mfa.MfaRequired):
        return auth_pb2.AuthResponse(mfa_required=True, mfa_token=result.mfa_token)
    return render(result)


class MfaApiKeysMethods:
    """Mixed into ``AuthService``; ``client_info`` and ``auth_response`` come from there."""

    def SignInMfa(self, request, context):  # noqa: N802 - gRPC method names
        result = mfa.user_signin_mfa(mfa_token=request.mfa_token, code=request.code, client=self.client_info(context))
        return self.auth_response(result)

    def SetupTotp(self, request, context):  # noqa: N802
        setup = mfa.totp_setup(user_id=context_principal(context).user_id)
        return auth_pb2.SetupTotpResponse(secret=setup.secret, otpauth_uri=setup.otpauth_uri)

    def ConfirmTotp(self, request, context):  # noqa: N802
        codes = mfa.totp_confirm(
            user_id=context_principal(context).user_id,
            code=request.code,
            client_ip=self.client_info(context).ip_address,
        )
        return auth_pb2.ConfirmTotpResponse(recovery_codes=codes)

    def DisableTotp(self, request, context):  # noqa: N802
        mfa.totp_disable(
            user_id=context_principal(context).user_id,
            password=request.password,
            client_ip=self.client_info(context).ip_address,
        )
        return auth_pb2.Empty()

    def CreateApiKey(self, request, context):  # noqa: N802
        created = api_keys.api_key_create(user_id=context_principal(context).user_id, name=request.name)
        return api_key_message(created.api_key, key=created.key)

    def ListApiKeys(self, request, context):  # noqa: N802
        keys = api_keys.api_key_list(user_id=context_principal(context).user_id)
        return auth_pb2.ListApiKeysResponse(api_keys=[api_key_message(k) for k in keys])

    def DeleteApiKey(self, request, context):  # noqa: N802
        api_keys.api_key_delete(user_id=context_principal(context).user_id, api_key_id=request.id)
        return auth_pb2.Empty()

    def VerifyApiKey(self, request, context):  # noqa: N802
        service_caller_require(context)  # the chat service's check, not a client's
        result = api_keys.api_key_verify(key=request.key)
        return auth_pb2.VerifyApiKeyResponse(valid=result.valid, user_id=result.user_id, api_key_id=result.api_key_id)
