"""Two-factor sign-in and API keys over gRPC (auth.AuthService), on a real channel."""

from __future__ import annotations

import grpc
import pytest

from protos import auth_pb2
from shared_apps.accounts.tests.conftest import bearer_metadata, service_metadata
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.accounts.tests.mfa_support import totp_code, wrong_code


def _signin(stub, user) -> auth_pb2.AuthResponse:
    return stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD))


def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code()


def test_two_factor_over_grpc(auth_stub):
    # given
    user = UserFactory()
    metadata = bearer_metadata(_signin(auth_stub, user).tokens.access_token)
    # when: set up and confirmed
    setup = auth_stub.SetupTotp(auth_pb2.SetupTotpRequest(), metadata=metadata)
    confirm = auth_stub.ConfirmTotp(
        auth_pb2.ConfirmTotpRequest(code=totp_code(setup.secret, steps_ahead=-1)), metadata=metadata
    )
    step_one = _signin(auth_stub, user)
    # then: sign-in answers mfa_required and a token, no user and no tokens
    assert setup.otpauth_uri.startswith("otpauth://totp/") and setup.secret
    assert len(confirm.recovery_codes) == 10
    assert step_one.mfa_required and step_one.mfa_token
    assert not step_one.HasField("tokens") and not step_one.HasField("user")

    # when: a wrong code, then the right one, then the token again
    wrong = _code(
        lambda: auth_stub.SignInMfa(
            auth_pb2.SignInMfaRequest(mfa_token=step_one.mfa_token, code=wrong_code(setup.secret))
        )
    )
    done = auth_stub.SignInMfa(auth_pb2.SignInMfaRequest(mfa_token=step_one.mfa_token, code=totp_code(setup.secret)))
    again = _code(
        lambda: auth_stub.SignInMfa(
            auth_pb2.SignInMfaRequest(mfa_token=step_one.mfa_token, code=totp_code(setup.secret, steps_ahead=1))
        )
    )
    # then
    assert wrong is grpc.StatusCode.UNAUTHENTICATED
    assert done.user.id == str(user.id) and done.tokens.access_token and not done.mfa_required
    assert again is grpc.StatusCode.UNAUTHENTICATED

    # when: turned off, with the password
    bad = _code(lambda: auth_stub.DisableTotp(auth_pb2.DisableTotpRequest(password="nope-nope-1"), metadata=metadata))
    auth_stub.DisableTotp(auth_pb2.DisableTotpRequest(password=PASSWORD), metadata=metadata)
    # then
    assert bad is grpc.StatusCode.INVALID_ARGUMENT
    assert _signin(auth_stub, user).tokens.access_token


def test_setup_needs_a_caller(auth_stub):
    # when / then
    assert _code(lambda: auth_stub.SetupTotp(auth_pb2.SetupTotpRequest())) is grpc.StatusCode.UNAUTHENTICATED


def test_brute_force_over_grpc_is_resource_exhausted(auth_stub, settings):
    # given
    settings.MFA_MAX_FAILURES_PER_ACCOUNT = 2
    user = UserFactory()
    metadata = bearer_metadata(_signin(auth_stub, user).tokens.access_token)
    setup = auth_stub.SetupTotp(auth_pb2.SetupTotpRequest(), metadata=metadata)
    auth_stub.ConfirmTotp(auth_pb2.ConfirmTotpRequest(code=totp_code(setup.secret, steps_ahead=-1)), metadata=metadata)
    token = _signin(auth_stub, user).mfa_token

    def attempt(code: str):
        return lambda: auth_stub.SignInMfa(auth_pb2.SignInMfaRequest(mfa_token=token, code=code))

    # when
    codes = [_code(attempt(wrong_code(setup.secret))) for _ in range(3)]
    # then
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 2 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert _code(attempt(totp_code(setup.secret))) is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_api_keys_over_grpc(auth_stub):
    # given
    alice, bob = UserFactory(), UserFactory()
    alice_md = bearer_metadata(_signin(auth_stub, alice).tokens.access_token)
    bob_md = bearer_metadata(_signin(auth_stub, bob).tokens.access_token)
    # when
    created = auth_stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(name="robot"), metadata=alice_md)
    listed = auth_stub.ListApiKeys(auth_pb2.ListApiKeysRequest(), metadata=alice_md)
    # then
    assert created.key.startswith(created.prefix) and created.name == "robot" and created.HasField("created_at")
    assert [k.id for k in listed.api_keys] == [created.id] and listed.api_keys[0].key == ""
    # when: bob tries to delete it; a bad id; then alice does
    bobs = _code(lambda: auth_stub.DeleteApiKey(auth_pb2.DeleteApiKeyRequest(id=created.id), metadata=bob_md))
    bad = _code(lambda: auth_stub.DeleteApiKey(auth_pb2.DeleteApiKeyRequest(id="nope"), metadata=alice_md))
    auth_stub.DeleteApiKey(auth_pb2.DeleteApiKeyRequest(id=created.id), metadata=alice_md)
    # then
    assert bobs is grpc.StatusCode.NOT_FOUND and bad is grpc.StatusCode.INVALID_ARGUMENT
    assert list(auth_stub.ListApiKeys(auth_pb2.ListApiKeysRequest(), metadata=alice_md).api_keys) == []


def test_verify_api_key_answers_the_chat_service_only(auth_stub, settings):
    # given
    user = UserFactory()
    metadata = bearer_metadata(_signin(auth_stub, user).tokens.access_token)
    created = auth_stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(name="k"), metadata=metadata)
    request = auth_pb2.VerifyApiKeyRequest(key=created.key)
    # when
    served = auth_stub.VerifyApiKey(request, metadata=service_metadata())
    # then
    assert served.valid and served.user_id == str(user.id) and served.api_key_id == created.id
    for others in [(), metadata, (("x-service-token", "w" * len(settings.AUTH_SERVICE_TOKEN)),)]:
        assert _code(lambda others=others: auth_stub.VerifyApiKey(request, metadata=others)) is (
            grpc.StatusCode.UNAUTHENTICATED
        )


def test_feed_lists_deleted_keys(auth_stub):
    # given
    user = UserFactory()
    metadata = bearer_metadata(_signin(auth_stub, user).tokens.access_token)
    kept = auth_stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(name="kept"), metadata=metadata)
    gone = auth_stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(name="gone"), metadata=metadata)
    first = auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(), metadata=service_metadata())
    # when
    auth_stub.DeleteApiKey(auth_pb2.DeleteApiKeyRequest(id=gone.id), metadata=metadata)
    second = auth_stub.ListRevokedSessions(
        auth_pb2.ListRevokedSessionsRequest(since=first.cursor), metadata=service_metadata()
    )
    # then
    assert gone.id not in first.api_key_ids
    assert gone.id in second.api_key_ids and kept.id not in second.api_key_ids
    assert not auth_stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=gone.key), metadata=service_metadata()).valid
