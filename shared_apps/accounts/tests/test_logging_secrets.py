"""No password or token reaches the logs, on REST or gRPC."""

from __future__ import annotations

import logging

import pytest

from protos import auth_pb2
from shared_apps.accounts.tests.conftest import bearer, bearer_metadata

PASSWORD = "S3cret-Passw0rd-That-Must-Not-Leak"


def _rendered(caplog) -> str:
    """Every captured record as the configured formatter writes it, plus its raw message."""
    formatter = next(h.formatter for h in logging.getLogger().handlers if h.formatter is not None)
    return "\n".join(formatter.format(record) for record in caplog.records)


def _assert_clean(text: str, secrets: list[str]) -> None:
    assert text, "nothing was logged, so the test proves nothing"
    for secret in secrets:
        assert secret not in text
        assert secret[-24:] not in text


@pytest.mark.django_db
def test_rest_flow_logs_no_secrets(api, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    # when
    signup = api.post("/v1/auth/signup", {"name": "L", "email": "log@example.com", "password": PASSWORD}, format="json")
    api.post("/v1/auth/signin", {"email": "log@example.com", "password": PASSWORD + "x"}, format="json")
    signin = api.post("/v1/auth/signin", {"email": "log@example.com", "password": PASSWORD}, format="json")
    tokens = signin.json()["tokens"]
    refreshed = api.post("/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json").json()["tokens"]
    api.post("/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json")  # reuse: logged warning
    api.post("/v1/auth/signout", **bearer(refreshed["access_token"]))
    api.get("/v1/users", **bearer(tokens["access_token"]))
    # then
    secrets = [
        PASSWORD,
        signup.json()["tokens"]["access_token"],
        signup.json()["tokens"]["refresh_token"],
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
    ]
    _assert_clean(_rendered(caplog), secrets)
    assert "refresh_token_reuse_detected" in caplog.text


def test_grpc_flow_logs_no_secrets(auth_stub, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    # when
    signup = auth_stub.SignUp(auth_pb2.UserCreateRequest(name="G", email="glog@example.com", password=PASSWORD))
    signin = auth_stub.SignIn(auth_pb2.Credentials(email="glog@example.com", password=PASSWORD))
    refreshed = auth_stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=signin.tokens.refresh_token)).tokens
    auth_stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=refreshed.access_token))
    auth_stub.SignOut(auth_pb2.SignOutRequest(), metadata=bearer_metadata(refreshed.access_token))
    # then
    secrets = [
        PASSWORD,
        signup.tokens.access_token,
        signup.tokens.refresh_token,
        signin.tokens.access_token,
        signin.tokens.refresh_token,
        refreshed.access_token,
        refreshed.refresh_token,
    ]
    _assert_clean(_rendered(caplog), secrets)
    assert "rpc_finished" in caplog.text
