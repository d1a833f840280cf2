"""Titles: after an untitled conversation's first reply the model is asked for a short title
(the fake upstream records the request); it reaches the owner's sockets as a ``title`` frame, a
title the user set meanwhile wins, and a failure leaves the conversation untitled."""

from __future__ import annotations

import json
import logging
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from chat_site.asgi import application
from shared_apps.chat import limits
from shared_apps.chat.models import Conversation
from shared_apps.chat.prompts import TITLE_ASK, TITLE_INSTRUCTION
from testkit.fake_openai import delay_first_byte, error, reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _titles_on(settings):
    settings.CHAT_TITLES = True  # off in the test settings, for the tests that count upstream requests


def connect(who) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {who.access}".encode())]
    )


async def frames_until(ws, kinds: tuple[str, ...], timeout: float = 5) -> list[dict]:
    frames = []
    while not frames or frames[-1]["type"] not in kinds:
        frames.append(json.loads(await ws.receive_from(timeout=timeout)))
    return frames


def tokens_used_today(who) -> int:
    return cache.get(limits._tokens_key(who.user_id, int(time.time() // limits.DAY)), 0)


async def test_the_first_reply_brings_a_generated_title_to_every_socket_of_the_owner(alice, bob, upstream):
    # given two sockets of alice's and one of bob's
    reply_usage = {"prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9}
    title_usage = {"prompt_tokens": 40, "completion_tokens": 4, "total_tokens": 44}
    upstream.enqueue(
        reply(["Paris", " is", " the capital."], usage=reply_usage),
        reply(['"Title:', " Capital", ' of France."'], usage=title_usage),
    )
    asking, watching, other = connect(alice), connect(alice), connect(bob)
    for ws in (asking, watching, other):
        assert (await ws.connect())[0]
    # when alice's first message in a new conversation is answered
    await asking.send_json_to({"type": "message", "content": "Capital of France?"})
    frames = await frames_until(asking, ("title",))
    # then the reply streams as always, and a title frame follows it
    kinds = [f["type"] for f in frames]
    assert kinds[:2] == ["ack", "start"] and kinds.index("done") < kinds.index("title")
    conversation_id = frames[0]["conversation_id"]
    expected = {"type": "title", "conversation_id": conversation_id, "title": "Capital of France"}
    assert frames[-1] == expected
    # and her other socket gets it too, bob's nothing
    assert await frames_until(watching, ("title",)) == [expected]
    assert await other.receive_nothing(timeout=0.3)
    # and the title request was small and bounded: the first message and its reply
    title_request = upstream.chat_requests[1].json
    assert title_request["max_tokens"] == 24
    assert title_request["messages"] == [
        {"role": "system", "content": TITLE_INSTRUCTION},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris is the capital."},
        {"role": "user", "content": TITLE_ASK},
    ]
    # and it is stored as generated, its tokens counted to alice's day with the reply's
    conversation = await database_sync_to_async(Conversation.objects.get)(id=conversation_id)
    assert (conversation.title, conversation.title_source) == ("Capital of France", "auto")
    assert await database_sync_to_async(tokens_used_today)(alice) == 9 + 44
    for ws in (asking, watching, other):
        await ws.disconnect()


def _wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_title_the_user_sets_meanwhile_is_never_overwritten(api, alice, upstream):
    # given a first reply whose title request is slow
    upstream.enqueue(reply(["Paris."]), delay_first_byte(0.5, then=reply(["Generated title"])))
    first = api.post("/v1/chat/ai", {"message": "Capital of France?"}, format="json", **alice.headers)
    conversation_id = first.json()["conversation_id"]
    # when alice names the conversation before the title arrives
    renamed = api.patch(f"/v1/chat/conversations/{conversation_id}", {"title": "Mine"}, format="json", **alice.headers)
    assert renamed.status_code == 200
    assert _wait_for(lambda: len(upstream.chat_requests) == 2 and upstream.pending == 0)
    time.sleep(0.3)  # the generated title's answer arrived; its conditional save has run
    # then her title stays
    conversation = Conversation.objects.get(id=conversation_id)
    assert (conversation.title, conversation.title_source) == ("Mine", "user")


@pytest.mark.parametrize("failure", [error(500), delay_first_byte(2.0)], ids=["upstream-500", "timeout"])
def test_a_failed_title_leaves_the_conversation_untitled_and_the_reply_whole(
    api, alice, upstream, caplog, monkeypatch, failure
):
    # given a title request that fails (the upstream's error, or slower than the title's deadline)
    from shared_apps.chat import reply_producer

    monkeypatch.setattr(reply_producer, "TITLE_TIMEOUT_SECONDS", 0.5)
    caplog.set_level(logging.WARNING)
    upstream.enqueue(reply(["Paris."]), failure)
    # when
    response = api.post("/v1/chat/ai", {"message": "Capital of France?"}, format="json", **alice.headers)
    # then the reply is whole
    assert response.status_code == 200 and response.json()["ai_message"] == "Paris."
    # and the failure is logged, the conversation left untitled
    assert _wait_for(lambda: "conversation_title_failed" in caplog.text)
    conversation = Conversation.objects.get(id=response.json()["conversation_id"])
    assert (conversation.title, conversation.title_source) == ("", "none")


def test_with_titles_off_no_title_is_asked_for(api, alice, upstream, settings):
    # given
    settings.CHAT_TITLES = False
    upstream.enqueue(reply(["Paris."]))
    # when a new conversation's first message is answered
    response = api.post("/v1/chat/ai", {"message": "Capital of France?"}, format="json", **alice.headers)
    time.sleep(0.3)
    # then only the reply went upstream, and the conversation stays untitled
    assert len(upstream.chat_requests) == 1
    conversation = Conversation.objects.get(id=response.json()["conversation_id"])
    assert (conversation.title, conversation.title_source) == ("", "none")


def test_a_titled_conversation_asks_for_no_title(api, alice, upstream):
    # given a conversation its owner titled
    conversation_id = api.post("/v1/chat/conversations", {"title": "Trip"}, format="json", **alice.headers).json()["id"]
    upstream.enqueue(reply(["Paris."]))
    # when its first message is answered
    api.post(
        f"/v1/chat/conversations/{conversation_id}/messages", {"content": "Capital?"}, format="json", **alice.headers
    )
    time.sleep(0.3)
    # then only the reply went upstream
    assert len(upstream.chat_requests) == 1
    assert Conversation.objects.get(id=conversation_id).title == "Trip"


def test_the_local_provider_titles_from_the_first_words(api, alice, settings):
    # given the offline provider
    settings.CHAT_PROVIDER = "local"
    settings.CHAT_LOCAL_DELAY_SECONDS = 0
    # when a first message is answered
    response = api.post(
        "/v1/chat/ai", {"message": "  Plan a   trip to Rome in May please"}, format="json", **alice.headers
    )
    # then the conversation is titled from the message's first words
    conversation_id = response.json()["conversation_id"]
    assert _wait_for(lambda: Conversation.objects.get(id=conversation_id).title_source == "auto")
    assert Conversation.objects.get(id=conversation_id).title == "Plan a trip to Rome in May please"
