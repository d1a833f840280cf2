"""Second attack pass, chat side."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid

import grpc
import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User as StaffUser
from django.test import Client

from chat_site.asgi import application
from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat import selectors
from shared_apps.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"
STAFF_PASSWORD = "s3cret-pass-word"


# --- the admin's login form -----------------------------------------------------------------------
# Chat staff read every user's conversations in the admin. Before this pass its login form used
# Django's ModelBackend: unlimited guesses, each an Argon2 hash outside the bounded queue.


def _admin_login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def _signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_chat_admin_login_guesses_are_throttled(settings):
    # given: a chat staff account and a guesser
    StaffUser.objects.create_superuser("ops", "ops@example.com", STAFF_PASSWORD)
    guesser = Client()
    for _ in range(settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT):
        assert _admin_login(guesser, "ops", "wrong-password-1").status_code == 200
    # when: the guesser hits the right password
    right = _admin_login(guesser, "ops", STAFF_PASSWORD)
    # then: refused with the throttle's message; no admin session
    assert right.status_code == 200
    assert "Too many failed sign-in attempts" in right.content.decode()
    assert not _signed_in(guesser)


def test_chat_admin_login_still_works():
    # given
    StaffUser.objects.create_superuser("ops", "ops@example.com", STAFF_PASSWORD)
    client = Client()
    # when
    response = _admin_login(client, "ops", STAFF_PASSWORD)
    # then
    assert response.status_code == 302
    assert _signed_in(client)


# --- many conversations -----------------------------------------------------------------------------
# Before this pass a conversation created on its own (not by a first message) counted against
# nothing: 60 POSTs in a row were 60 rows (201 each), over REST and gRPC alike.


@pytest.mark.django_db(transaction=True)
def test_conversations_created_on_their_own_are_rate_limited(api, alice, bob, grpc_channel, settings):
    # given
    settings.CHAT_RATE_CONVERSATIONS_PER_MINUTE = 5
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 1000
    stub = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    # when: alice creates conversations as fast as she can, over REST then gRPC
    codes = [
        api.post("/v1/chat/conversations", {"title": f"t{i}"}, format="json", **alice.headers).status_code
        for i in range(4)
    ]
    stub.CreateConversation(chat_pb2.Conversation(title="over grpc"), metadata=alice.metadata)
    over = api.post("/v1/chat/conversations", {"title": "one too many"}, format="json", **alice.headers)
    with pytest.raises(grpc.RpcError) as refused:
        stub.CreateConversation(chat_pb2.Conversation(title="again"), metadata=alice.metadata)
    # then: the sixth is refused on both transports, with a Retry-After; bob is unaffected
    assert codes == [201] * 4
    assert over.status_code == 429 and int(over["Retry-After"]) >= 1
    assert over.json()["error"]["code"] == "rate_limited"
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert Conversation.objects.filter(user_id=alice.user_id).count() == 5
    assert api.post("/v1/chat/conversations", {}, format="json", **bob.headers).status_code == 201


# --- client-written ids in the log lines ----------------------------------------------------------
# django-structlog binds X-Request-ID and X-Correlation-ID from the request to every log line.
# Before this pass the request id was checked only after ``request_started`` was logged, and the
# correlation id never: a client could write newlines and kilobytes into the logs.

FORGED = "x\n2026-01-01T00:00:00Z [error    ] user_deactivated forged=1 " + "A" * 4000


def test_client_written_ids_never_reach_a_log_line(api, alice, caplog):
    # when
    with caplog.at_level(logging.DEBUG):
        response = api.get(
            "/v1/chat/conversations", HTTP_X_REQUEST_ID=FORGED, HTTP_X_CORRELATION_ID=FORGED, **alice.headers
        )
    # then: a fresh id is made and echoed; no log line holds any of the forged text
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f-]{36}", response["X-Request-ID"])
    lines = [record.getMessage() for record in caplog.records]
    assert any("request_started" in line for line in lines)
    assert not [line for line in lines if "forged=1" in line or "AAAA" in line]


def test_a_plain_request_id_is_still_kept(api, alice, caplog):
    # given
    plain = "req-2026.01:abc_DEF"
    # when
    with caplog.at_level(logging.DEBUG):
        response = api.get("/v1/chat/conversations", HTTP_X_REQUEST_ID=plain, **alice.headers)
    # then
    assert response["X-Request-ID"] == plain
    started = [r.getMessage() for r in caplog.records if "request_started" in r.getMessage()]
    assert started and plain in started[0]


# --- exports of huge conversations --------------------------------------------------------------------
# Messages can be stored at the message rate with no model call (SendMessage), each up to
# CHAT_MAX_MESSAGE_CHARS, so one conversation can grow by ~1 GB a day. Its export was built in
# memory: measured before this pass, 2,000 messages of 32,000 characters (64 MB) raised the
# process's peak memory by 130 MB for one request, and a few at once would take the process.


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_an_export_over_the_size_limit_is_413_before_loading_messages(api, alice, settings, fmt):
    # given: a conversation just over the limit
    settings.CHAT_EXPORT_MAX_CHARS = 1000
    conversation = Conversation.objects.create(user_id=alice.user_id, title="big")
    for _ in range(2):
        Message.objects.create(conversation=conversation, user_id=alice.user_id, role="user", content="x" * 501)
    url = f"/v1/chat/conversations/{conversation.id}/export?format={fmt}"
    # when
    response = api.get(url, **alice.headers)
    # then
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large" and error["details"] == {"chars": 1002, "max_chars": 1000}
    # and: under the limit it exports
    Message.objects.filter(conversation=conversation).first().delete()
    assert api.get(url, **alice.headers).status_code == 200


# --- sockets that never authenticate ----------------------------------------------------------------
# A socket may wait CHAT_WS_AUTH_TIMEOUT (10 s) for its first-frame auth. Before this pass
# nothing bounded how many one address held meanwhile: 200 opened in a row were 200 accepted.


def _socket(who=None, address: str = "198.51.100.7") -> WebsocketCommunicator:
    headers = [(b"authorization", f"Bearer {who.access}".encode())] if who is not None else []
    ws = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    ws.scope["client"] = (address, 40000)
    return ws


@pytest.mark.django_db(transaction=True)
async def test_unauthenticated_sockets_per_address_are_capped(alice, bob, settings):
    # given
    settings.CHAT_MAX_PENDING_SOCKETS_PER_ADDRESS = 3
    settings.CHAT_WS_AUTH_TIMEOUT = 30
    pending = [_socket() for _ in range(3)]
    for ws in pending:
        assert (await ws.connect())[0]
    # when: one more from the same address, one from another, and a socket with a token
    extra, elsewhere, with_token = _socket(), _socket(address="198.51.100.8"), _socket(alice)
    # then: only the extra one is refused at the handshake
    assert not (await extra.connect())[0]
    assert (await elsewhere.connect())[0]
    assert (await with_token.connect())[0]
    # and: a pending socket that authenticates frees its place
    await pending[0].send_json_to({"type": "auth", "token": bob.access})
    await pending[0].send_json_to({"type": "resume", "message_id": "not-a-uuid"})
    assert json.loads(await pending[0].receive_from(timeout=5))["type"] == "error"
    again = _socket()
    assert (await again.connect())[0]
    for ws in [*pending, elsewhere, with_token, again]:
        await ws.disconnect()


# --- headers of the pages people open (pinned: these held) ---------------------------------------------


def test_web_page_and_admin_cannot_be_framed_or_sniffed(client):
    # when
    page = client.get("/app/")
    login = client.get("/admin/login/")
    # then: the chat page's policy allows our own script and style only and no framing
    csp = dict(part.strip().split(" ", 1) for part in page["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"
    assert page["Referrer-Policy"] == "no-referrer"
    for response in (page, login):
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_admin_login_needs_the_csrf_token():
    # given
    StaffUser.objects.create_superuser("ops", "ops@example.com", STAFF_PASSWORD)
    client = Client(enforce_csrf_checks=True)
    # when: a cross-site form post (no CSRF cookie or token)
    response = client.post(LOGIN, {"username": "ops", "password": STAFF_PASSWORD})
    # then
    assert response.status_code == 403
    assert not _signed_in(client)


# --- a flood of resume frames ---------------------------------------------------------------------------
# A resume of an id the socket does not follow yet starts a forwarder, whose first step is a
# database read on the executor every socket's ORM work shares (CHAT_DB_THREADS). Random ids
# cost nothing to send: measured before this pass, 3,000 of them from one socket (sent in
# 0.4 s) started 3,000 reads, and another user's next message waited 16.6 s for its ack
# instead of 2.5 s on the loaded test box.


@pytest.mark.django_db(transaction=True)
async def test_a_resume_flood_starts_a_bounded_number_of_readers(alice, monkeypatch, settings):
    # given: every database read a forwarder starts is counted, and each is slow (a busy database)
    settings.CHAT_WS_MAX_FORWARDERS = 4
    started, in_flight, most = [], [0], [0]
    lock = threading.Lock()
    real_message_get = selectors.message_get

    def counted_message_get(**kwargs):
        with lock:
            started.append(kwargs["message_id"])
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            time.sleep(1.0)
            return real_message_get(**kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(selectors, "message_get", counted_message_get)
    ws = _socket(alice)
    assert (await ws.connect())[0]
    # when: 200 resumes of random ids at once
    for _ in range(200):
        await ws.send_json_to({"type": "resume", "message_id": str(uuid.uuid4())})
    frames = [json.loads(await ws.receive_from(timeout=15)) for _ in range(200)]
    # then: every one is answered; never more reads at once than the socket may follow, and the
    # rest are refused without a read (before: 200 reads, as many at once as executor threads)
    codes = [frame["code"] for frame in frames]
    assert set(codes) <= {"rate_limited", "not_found"}
    assert most[0] <= 4
    assert len(started) == codes.count("not_found") and codes.count("rate_limited") >= 150
    await ws.disconnect()
