"""Why the chat side's deny-list (the revocation feed) is safe once the keys are.

The chat service accepts a token whose signature verifies and whose session is not on the
list of ended sessions it polls from the auth service; it keeps no list of issued sessions.
That is safe because a verifying signature means the auth service issued the token, and the
auth service signs only for sessions it has stored: sign-up and sign-in store the session in
the call that mints its first pair, refresh re-signs an existing row. So a token for a session
the auth service never issued needs a signing key, and production refuses every known or weak
key (``test_production_settings.py``). The last test here is the premise made visible: with the
real key, a never-issued session *is* accepted, which is exactly why the keys are guarded.

The one way a real session could leave the list is its row being deleted (a user deleted in
the admin takes their sessions with them); deleted sessions are reported by the feed too.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import timedelta

import grpc
import jwt
import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from protos import auth_pb2, auth_pb2_grpc
from shared_apps.accounts.models import Session, User
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.authn import verify
from shared_apps.authn.keys import build_keyring, hmac_kid
from shared_apps.authn.revocation import revocation_feed_reset
from shared_apps.authn.verify import access_token_verify
from shared_apps.core.errors import NotAuthenticated
from shared_apps.core.settings_common import DEV_JWT_SIGNING_KEY

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = secrets.token_urlsafe(48)
CHAT_CHECK = "shared_apps.authn.revocation.session_is_active"


@pytest.fixture
def stack(settings, auth_grpc_target):
    """The auth service (this process, its gRPC server on loopback) with a production-strength
    key, and the chat side's verifier: the same key ring, sessions checked against the feed."""
    settings.JWT_KEYRING = build_keyring(algorithm="HS256", signing_key=SECRET)
    settings.AUTH_GRPC_TARGET = auth_grpc_target
    settings.AUTHN_REVOCATION_POLL_SECONDS = 0.05  # the chat site's settings, for its feed client
    settings.AUTHN_REVOCATION_MAX_STALENESS = 5.0
    revocation_feed_reset()
    yield auth_grpc_target
    revocation_feed_reset()


def chat_side_verify(token: str):
    """access_token_verify as the chat service runs it (the deny-list, not the database)."""
    with override_settings(AUTHN_SESSION_STATE_CHECK=CHAT_CHECK):
        verify._session_state_check.cache_clear()
        try:
            return access_token_verify(token)
        finally:
            verify._session_state_check.cache_clear()


def refused_within(token: str, seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chat_side_verify(token)
        except NotAuthenticated:
            return True
        time.sleep(0.05)
    return False


def _claims(*, sub: uuid.UUID, sid: uuid.UUID) -> dict:
    now = timezone.now()
    return {
        "sub": str(sub),
        "sid": str(sid),
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "iss": "chat-ai-auth",
        "aud": "chat-ai",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=10)).timestamp()),
    }


def test_every_token_handed_out_names_a_session_the_auth_service_stored(stack):
    # when: tokens come out of every path that hands them out, over REST and gRPC
    api = APIClient()
    issued = [
        api.post("/v1/auth/signup", {"email": "a@example.com", "password": PASSWORD}, format="json").json()["tokens"],
        api.post("/v1/auth/signin", {"email": "a@example.com", "password": PASSWORD}, format="json").json()["tokens"],
    ]
    issued.append(
        api.post("/v1/auth/refresh", {"refresh_token": issued[-1]["refresh_token"]}, format="json").json()["tokens"]
    )
    stub = auth_pb2_grpc.AuthServiceStub(grpc.insecure_channel(stack))
    signed_up = stub.SignUp(auth_pb2.UserCreateRequest(email="b@example.com", password=PASSWORD)).tokens
    signed_in = stub.SignIn(auth_pb2.Credentials(email="b@example.com", password=PASSWORD)).tokens
    refreshed = stub.RefreshToken(auth_pb2.RefreshTokenRequest(refresh_token=signed_in.refresh_token)).tokens
    tokens = [t["access_token"] for t in issued] + [t.access_token for t in (signed_up, signed_in, refreshed)]
    # then: each one's session is a stored row, and the chat side accepts it
    stored = {str(i) for i in Session.objects.values_list("id", flat=True)}
    for token in tokens:
        assert str(chat_side_verify(token).session_id) in stored


@pytest.mark.parametrize("forgery", ["dev_key", "dev_key_with_our_kid", "another_strong_key", "alg_none"])
def test_a_token_for_a_session_never_issued_fails_its_signature(stack, forgery):
    # given: a victim, and a token for a session id the auth service never issued
    victim = UserFactory()
    claims = _claims(sub=victim.id, sid=uuid.uuid4())
    token = {
        "dev_key": lambda: jwt.encode(
            claims, DEV_JWT_SIGNING_KEY, "HS256", headers={"kid": hmac_kid(DEV_JWT_SIGNING_KEY)}
        ),
        "dev_key_with_our_kid": lambda: jwt.encode(
            claims, DEV_JWT_SIGNING_KEY, "HS256", headers={"kid": hmac_kid(SECRET)}
        ),
        "another_strong_key": lambda: jwt.encode(
            claims, secrets.token_urlsafe(48), "HS256", headers={"kid": hmac_kid(SECRET)}
        ),
        "alg_none": lambda: jwt.encode(claims, None, "none", headers={"kid": hmac_kid(SECRET)}),
    }[forgery]()
    # when / then: refused before the deny-list is consulted
    with pytest.raises(NotAuthenticated, match="Token is invalid"):
        chat_side_verify(token)


def test_the_premise_a_leaked_key_would_forge_any_session(stack):
    # given: the real key (what production must keep secret), and a session never issued
    never_issued = uuid.uuid4()
    token = jwt.encode(
        _claims(sub=UserFactory().id, sid=never_issued), SECRET, "HS256", headers={"kid": hmac_kid(SECRET)}
    )
    # then: the deny-list has nothing to say about it: the key is the whole defence
    assert chat_side_verify(token).session_id == never_issued


@pytest.mark.parametrize("deleted", ["user", "session"])
def test_a_deleted_session_is_refused_by_the_chat_side(stack, deleted):
    # given: a signed-in user whose token the chat side accepts
    user = UserFactory()
    api = APIClient()
    token = api.post("/v1/auth/signin", {"email": user.email, "password": PASSWORD}, format="json").json()["tokens"][
        "access_token"
    ]
    assert chat_side_verify(token).user_id == user.id
    # when: the user (and so their sessions), or the session row itself, is deleted
    if deleted == "user":
        User.objects.filter(id=user.id).delete()
    else:
        Session.objects.filter(user=user).delete()
    # then: the chat side refuses the token within the feed's delay, like an ended session
    assert refused_within(token)
