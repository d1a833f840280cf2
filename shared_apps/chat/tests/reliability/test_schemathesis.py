"""Schemathesis over the chat service's OpenAPI schema (``/v1/schema``), in-process through the
WSGI handler, with a real bearer token from the auth service and the fake OpenAI upstream.

Each operation gets a bounded number of generated cases by default (many more under
``-m slow``); no response may be a 5xx, and each must match the schema where the schema
documents its status code. Path ids are a mix of random UUIDs and the user's real
conversations, so the success paths (and their response bodies) are exercised too. Afterwards
the same in-process app still serves a normal request, and every user message that a 201
reported is stored."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from rest_framework.test import APIClient

from shared_apps.chat.models import Message
from shared_apps.core.tests.schemathesis_run import run

pytestmark = pytest.mark.django_db(transaction=True)


def _run(alice, settings, examples: int):
    settings.ALLOWED_HOSTS = ["*"]
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 100_000  # rate limits are tested elsewhere; here they would hide paths
    settings.CHAT_RATE_CONVERSATIONS_PER_MINUTE = 100_000
    api = APIClient()
    conversations = [
        api.post("/v1/chat/conversations", {"title": f"c{i}"}, format="json", **alice.headers).json()["id"]
        for i in range(4)
    ]
    for cid in conversations:
        api.post("/v1/chat/message", {"message": "seed", "conversation_id": cid}, format="json", **alice.headers)

    def prepare(case, draw):
        if "conversation_id" in (case.path_parameters or {}) and draw(st.booleans()):
            case.path_parameters["conversation_id"] = draw(st.sampled_from(conversations))

    before = Message.objects.filter(role=Message.Role.USER).count()
    outcome = run(
        examples=examples, headers_for=lambda operation: {"Authorization": f"Bearer {alice.access}"}, prepare=prepare
    )
    print(f"\nschemathesis chat: {outcome.summary()}")
    assert not outcome.failures, "\n".join(outcome.failures[:10])
    assert outcome.cases >= 10 * min(examples, 5)
    # the process still serves, and nothing the user sent went missing
    assert api.get("/v1/chat/conversations", **alice.headers).status_code == 200
    assert Message.objects.filter(role=Message.Role.USER).count() >= before
    assert not Message.objects.filter(status=Message.Status.STREAMING).exists()
    return outcome


def test_chat_schema_no_5xx_and_conforms(alice, upstream, settings):
    _run(alice, settings, examples=60)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_chat_schema_no_5xx_and_conforms_many(alice, upstream, settings):
    _run(alice, settings, examples=1000)
