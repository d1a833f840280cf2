"""No secret of two-factor sign-in or of API keys (password, tokens, TOTP secret, recovery
codes, mfa_token, API key) reaches a log line or an error, on REST or gRPC."""

from __future__ import annotations

import logging

import grpc
import pytest

from protos import auth_pb2
from shared_apps.accounts.tests.conftest import bearer, bearer_metadata, service_metadata
from shared_apps.accounts.tests.mfa_support import totp_code, wrong_code

PASSWORD = "S3cret-Passw0rd-That-Must-Not-Leak"


def _rendered(caplog) -> str:
    formatter = next(h.formatter for h in logging.getLogger().handlers if h.formatter is not None)
    return "\n".join(formatter.format(record) for record in caplog.records)


def _assert_clean(text: str, secrets: list[str]) -> None:
    assert text, "nothing was logged, so the test proves nothing"
    for secret in secrets:
        assert secret not in text, secret
        assert secret[-12:] not in text


@pytest.mark.django_db
def test_rest_two_factor_and_keys_log_no_secrets(api, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    signup = api.post(
        "/v1/auth/signup", {"name": "L", "email": "mfalog@example.com", "password": PASSWORD}, format="json"
    )
    access = signup.json()["tokens"]["access_token"]
    # when: two-factor on, a two-step sign-in with a wrong code, a recovery code, an API key
    setup = api.post("/v1/auth/mfa/totp/setup", **bearer(access)).json()
    recovery = api.post(
        "/v1/auth/mfa/totp/confirm",
        {"code": totp_code(setup["secret"], steps_ahead=-1)},
        format="json",
        **bearer(access),
    ).json()["recovery_codes"]
    credentials = {"email": "mfalog@example.com", "password": PASSWORD}
    mfa_token = api.post("/v1/auth/signin", credentials, format="json").json()["mfa_token"]
    errors = [
        api.post("/v1/auth/signin/mfa", {"mfa_token": mfa_token, "code": wrong_code(setup["secret"])}, format="json"),
        api.post("/v1/auth/signin/mfa", {"mfa_token": mfa_token + "x", "code": recovery[1]}, format="json"),
        api.delete("/v1/auth/mfa/totp", {"password": PASSWORD + "x"}, format="json", **bearer(access)),
    ]
    signed = api.post("/v1/auth/signin/mfa", {"mfa_token": mfa_token, "code": recovery[0]}, format="json").json()
    key = api.post("/v1/auth/api-keys", {"name": "k"}, format="json", **bearer(access)).json()["key"]
    errors.append(api.get("/v1/auth/api-keys", **bearer(key)))
    api.delete("/v1/auth/mfa/totp", {"password": PASSWORD}, format="json", **bearer(access))
    # then
    secrets = [
        PASSWORD,
        access,
        setup["secret"],
        *recovery,
        *(c.replace("-", "") for c in recovery),
        mfa_token,
        signed["tokens"]["access_token"],
        signed["tokens"]["refresh_token"],
        key,
    ]
    _assert_clean(_rendered(caplog), secrets)
    _assert_clean("\n".join(e.content.decode() for e in errors), secrets)
    assert "totp_enabled" in caplog.text and "signin_mfa_failed" in caplog.text


def test_grpc_two_factor_and_keys_log_no_secrets(auth_stub, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    signup = auth_stub.SignUp(auth_pb2.UserCreateRequest(name="G", email="mfaglog@example.com", password=PASSWORD))
    metadata = bearer_metadata(signup.tokens.access_token)
    # when
    setup = auth_stub.SetupTotp(auth_pb2.SetupTotpRequest(), metadata=metadata)
    recovery = auth_stub.ConfirmTotp(
        auth_pb2.ConfirmTotpRequest(code=totp_code(setup.secret, steps_ahead=-1)), metadata=metadata
    ).recovery_codes
    mfa_token = auth_stub.SignIn(auth_pb2.Credentials(email="mfaglog@example.com", password=PASSWORD)).mfa_token
    details = []
    for call in [
        lambda: auth_stub.SignInMfa(auth_pb2.SignInMfaRequest(mfa_token=mfa_token, code=wrong_code(setup.secret))),
        lambda: auth_stub.DisableTotp(auth_pb2.DisableTotpRequest(password=PASSWORD + "x"), metadata=metadata),
    ]:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        details.append(caught.value.details())
    signed = auth_stub.SignInMfa(auth_pb2.SignInMfaRequest(mfa_token=mfa_token, code=totp_code(setup.secret)))
    key = auth_stub.CreateApiKey(auth_pb2.CreateApiKeyRequest(name="k"), metadata=metadata).key
    auth_stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=key), metadata=service_metadata())
    auth_stub.VerifyApiKey(auth_pb2.VerifyApiKeyRequest(key=key[:-1] + "Z"), metadata=service_metadata())
    # then
    secrets = [
        PASSWORD,
        signup.tokens.access_token,
        setup.secret,
        *recovery,
        mfa_token,
        signed.tokens.access_token,
        signed.tokens.refresh_token,
        key,
    ]
    _assert_clean(_rendered(caplog), secrets)
    _assert_clean("\n".join(details), secrets)
    assert "rpc_finished" in caplog.text
