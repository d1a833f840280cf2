"""No password, reset or verification token reaches a log line or an error answer, on REST or
gRPC, when a flow goes right, when a token is refused, or when the mail server is down."""

from __future__ import annotations

import logging
import time

import grpc
import pytest

from protos import auth_pb2
from shared_apps.accounts.tests.conftest import bearer, bearer_metadata
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from testkit.processes import free_port

NEW_PASSWORD = "N3w-Secret-Passphrase-That-Must-Not-Leak"
# The tests' own tools, not the service: aiosmtpd (the mail server) and factory_boy (the fixtures).
TEST_TOOL_LOGGERS = ("mail.log", "factory")


def _rendered(caplog) -> str:
    """Every record of the service as the configured formatter writes it."""
    formatter = next(h.formatter for h in logging.getLogger().handlers if h.formatter is not None)
    return "\n".join(formatter.format(r) for r in caplog.records if not r.name.startswith(TEST_TOOL_LOGGERS))


def _assert_clean(text: str, secrets: list[str]) -> None:
    assert text, "nothing was logged, so the test proves nothing"
    for secret in secrets:
        assert secret not in text
        assert secret[-24:] not in text  # the token part, without its user id


@pytest.mark.django_db
def test_rest_flows_log_no_secrets(api, smtp_inbox, caplog, settings):
    # given
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []
    signup = api.post(
        "/v1/auth/signup", {"name": "L", "email": "leak@example.com", "password": PASSWORD}, format="json"
    )
    verification = smtp_inbox.token_for("leak@example.com")
    access = signup.json()["tokens"]["access_token"]
    # when: verify, change (wrong, then right), reset (with a bad token, then the real one, then again)
    for body in ({"token": verification}, {"token": verification + "x"}):
        answers.append(api.post("/v1/auth/email/verify", body, format="json").content.decode())
    for current in ("wrong-" + PASSWORD, PASSWORD):
        body = {"current_password": current, "new_password": NEW_PASSWORD}
        answers.append(api.post("/v1/auth/password/change", body, format="json", **bearer(access)).content.decode())
    api.post("/v1/auth/password/reset", {"email": "leak@example.com"}, format="json")
    reset = smtp_inbox.token_for("leak@example.com", index=1)
    for token in (reset[:-1] + "0", reset, reset):
        body = {"token": token, "new_password": NEW_PASSWORD + "!"}
        answers.append(api.post("/v1/auth/password/reset/confirm", body, format="json").content.decode())
    # and: the mail server is down when a link is asked for
    settings.EMAIL_PORT = free_port()
    api.post("/v1/auth/password/reset", {"email": "leak@example.com"}, format="json")
    # then
    secrets = [PASSWORD, NEW_PASSWORD, verification, reset, access]
    _wait_for_record(caplog, "email_send_failed")
    _assert_clean(_rendered(caplog), secrets)
    _assert_clean("\n".join(answers), secrets)
    assert "password_reset" in caplog.text and "email_verified" in caplog.text


def _wait_for_record(caplog, event: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while event not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    assert event in caplog.text


def test_grpc_flows_log_no_secrets(auth_stub, smtp_inbox, caplog):
    # given
    caplog.set_level(logging.DEBUG)
    user = UserFactory()
    access = auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD)).tokens.access_token
    details: list[str] = []
    # when
    change = auth_pb2.ChangePasswordRequest(current_password=PASSWORD, new_password=NEW_PASSWORD)
    auth_stub.ChangePassword(change, metadata=bearer_metadata(access))
    auth_stub.ResendVerificationEmail(auth_pb2.Empty(), metadata=bearer_metadata(access))
    verification = smtp_inbox.token_for(user.email)
    auth_stub.VerifyEmail(auth_pb2.VerifyEmailRequest(token=verification))
    auth_stub.RequestPasswordReset(auth_pb2.PasswordResetRequest(email=user.email))
    reset = smtp_inbox.token_for(user.email, index=1)
    auth_stub.ConfirmPasswordReset(auth_pb2.PasswordResetConfirmRequest(token=reset, new_password=PASSWORD + "2"))
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.ConfirmPasswordReset(auth_pb2.PasswordResetConfirmRequest(token=reset, new_password=NEW_PASSWORD))
    details.append(caught.value.details())
    # then
    secrets = [PASSWORD, NEW_PASSWORD, verification, reset, access]
    _assert_clean(_rendered(caplog), secrets)
    _assert_clean("\n".join(details), secrets)
    assert "rpc_finished" in caplog.text
