"""auth.AuthService password, email and session RPCs over a real channel, with the emails going
through a real SMTP server on loopback."""

from __future__ import annotations

import grpc
import pytest

from protos import auth_pb2
from shared_apps.accounts.tests.conftest import bearer_metadata
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory

NEW_PASSWORD = "a-Brand-new-passphrase-42"


def _signin(auth_stub, email: str, password: str = PASSWORD) -> auth_pb2.AuthResponse:
    return auth_stub.SignIn(auth_pb2.Credentials(email=email, password=password))


def _valid(auth_stub, token: str) -> bool:
    return auth_stub.ValidateToken(auth_pb2.ValidateTokenRequest(token=token)).valid


def _code(call, *args, **kwargs) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value.code()


def test_signup_verify_and_the_user_shape(auth_stub, smtp_inbox):
    # given
    signup = auth_stub.SignUp(auth_pb2.UserCreateRequest(name="G", email="grace@example.com", password=PASSWORD))
    assert signup.user.email_verified is False
    # when
    auth_stub.VerifyEmail(auth_pb2.VerifyEmailRequest(token=smtp_inbox.token_for("grace@example.com")))
    # then
    assert _signin(auth_stub, "grace@example.com").user.email_verified is True


def test_verify_with_a_bad_token_is_invalid_argument(auth_stub):
    assert _code(auth_stub.VerifyEmail, auth_pb2.VerifyEmailRequest(token="junk")) is grpc.StatusCode.INVALID_ARGUMENT


def test_resend(auth_stub, smtp_inbox):
    # given
    user = UserFactory()
    tokens = _signin(auth_stub, user.email).tokens
    # when
    auth_stub.ResendVerificationEmail(auth_pb2.Empty(), metadata=bearer_metadata(tokens.access_token))
    # then
    auth_stub.VerifyEmail(auth_pb2.VerifyEmailRequest(token=smtp_inbox.token_for(user.email)))
    assert _signin(auth_stub, user.email).user.email_verified is True
    assert _code(auth_stub.ResendVerificationEmail, auth_pb2.Empty()) is grpc.StatusCode.UNAUTHENTICATED


def test_signin_unverified_is_permission_denied_when_required(auth_stub, settings, smtp_inbox):
    # given
    settings.AUTH_REQUIRE_VERIFIED_EMAIL = True
    user = UserFactory()
    # when
    with pytest.raises(grpc.RpcError) as caught:
        _signin(auth_stub, user.email)
    # then
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "verify your email" in caught.value.details().lower()
    assert smtp_inbox.wait_for(user.email)


def test_change_password(auth_stub):
    # given
    user = UserFactory()
    current, other = (_signin(auth_stub, user.email).tokens for _ in "ab")
    # when
    auth_stub.ChangePassword(
        auth_pb2.ChangePasswordRequest(current_password=PASSWORD, new_password=NEW_PASSWORD),
        metadata=bearer_metadata(current.access_token),
    )
    # then
    assert _valid(auth_stub, current.access_token) and not _valid(auth_stub, other.access_token)
    assert _signin(auth_stub, user.email, NEW_PASSWORD).tokens.access_token


@pytest.mark.parametrize(
    "metadata, expected",
    [
        ("wrong current password", grpc.StatusCode.INVALID_ARGUMENT),
        ("no token", grpc.StatusCode.UNAUTHENTICATED),
    ],
)
def test_change_password_refused(auth_stub, metadata, expected):
    # given
    user = UserFactory()
    tokens = _signin(auth_stub, user.email).tokens
    request = auth_pb2.ChangePasswordRequest(current_password="wrong-" + PASSWORD, new_password=NEW_PASSWORD)
    # when
    code = _code(
        auth_stub.ChangePassword,
        request,
        metadata=bearer_metadata(tokens.access_token) if metadata == "wrong current password" else (),
    )
    # then
    expected = (
        grpc.StatusCode.INVALID_ARGUMENT if metadata == "wrong current password" else grpc.StatusCode.UNAUTHENTICATED
    )
    assert code is expected
    assert _valid(auth_stub, tokens.access_token)


def test_reset_password(auth_stub, smtp_inbox):
    # given
    user = UserFactory()
    tokens = _signin(auth_stub, user.email).tokens
    auth_stub.RequestPasswordReset(auth_pb2.PasswordResetRequest(email=user.email))
    auth_stub.RequestPasswordReset(auth_pb2.PasswordResetRequest(email="ghost@example.com"))  # the same answer
    token = smtp_inbox.token_for(user.email)
    # when
    auth_stub.ConfirmPasswordReset(auth_pb2.PasswordResetConfirmRequest(token=token, new_password=NEW_PASSWORD))
    # then
    assert not _valid(auth_stub, tokens.access_token)
    assert _signin(auth_stub, user.email, NEW_PASSWORD).tokens.access_token
    reused = auth_pb2.PasswordResetConfirmRequest(token=token, new_password="attacker-Chosen-99")
    assert _code(auth_stub.ConfirmPasswordReset, reused) is grpc.StatusCode.INVALID_ARGUMENT
    malformed = auth_pb2.PasswordResetConfirmRequest(token="x.y", new_password=NEW_PASSWORD)
    assert _code(auth_stub.ConfirmPasswordReset, malformed) is grpc.StatusCode.INVALID_ARGUMENT
    assert smtp_inbox.to("ghost@example.com") == []


def test_reset_requests_are_throttled(auth_stub, settings):
    # given
    settings.ACCOUNT_EMAILS_PER_ACCOUNT = 1
    auth_stub.RequestPasswordReset(auth_pb2.PasswordResetRequest(email="ghost@example.com"))
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.RequestPasswordReset(auth_pb2.PasswordResetRequest(email="ghost@example.com"))
    # then
    assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert int(dict(caught.value.trailing_metadata())["retry-after"]) > 0


def test_list_and_end_sessions(auth_stub):
    # given
    user = UserFactory()
    older = _signin(auth_stub, user.email).tokens
    current = _signin(auth_stub, user.email).tokens
    metadata = bearer_metadata(current.access_token)
    # when
    listed = auth_stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=metadata).sessions
    auth_stub.EndSession(auth_pb2.EndSessionRequest(session_id=older.id), metadata=metadata)
    # then
    assert [(s.id, s.current) for s in listed] == [(current.id, True), (older.id, False)]
    assert listed[0].ip == "127.0.0.1" and listed[0].HasField("last_used_at")
    assert not _valid(auth_stub, older.access_token)
    after = auth_stub.ListSessions(auth_pb2.ListSessionsRequest(), metadata=metadata).sessions
    assert [s.id for s in after] == [current.id]


def test_ending_another_users_session_is_not_found(auth_stub):
    # given
    caller = _signin(auth_stub, UserFactory().email).tokens
    victim = _signin(auth_stub, UserFactory().email).tokens
    # when
    code = _code(
        auth_stub.EndSession,
        auth_pb2.EndSessionRequest(session_id=victim.id),
        metadata=bearer_metadata(caller.access_token),
    )
    # then
    assert code is grpc.StatusCode.NOT_FOUND
    assert _valid(auth_stub, victim.access_token)
    bad_id = auth_pb2.EndSessionRequest(session_id="nope")
    assert _code(auth_stub.EndSession, bad_id, metadata=bearer_metadata(caller.access_token)) is (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    assert _code(auth_stub.ListSessions, auth_pb2.ListSessionsRequest()) is grpc.StatusCode.UNAUTHENTICATED
