"""Database work per reply stays small and does not grow with the number of tokens."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shared_apps.chat import services
from shared_apps.chat.models import Message
from shared_apps.chat.providers.base import Usage

pytestmark = pytest.mark.django_db(transaction=True)


TRANSACTION = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")


def _sql(ctx: CaptureQueriesContext) -> list[str]:
    """The statements that do work (transaction bookkeeping counted separately)."""
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].upper().startswith(TRANSACTION)]


def _transactions(ctx: CaptureQueriesContext) -> int:
    return sum(q["sql"].upper().startswith("BEGIN") for q in ctx.captured_queries)


def test_a_reply_in_an_existing_conversation_costs_five_statements_of_work():
    user_id = uuid.uuid4()
    conversation = services.conversation_create(user_id=user_id, title="t")
    with CaptureQueriesContext(connection) as before:
        plan = services.reply_prepare(user_id=user_id, conversation_id=str(conversation.id), content="hi")
    with CaptureQueriesContext(connection) as after:
        message = services.reply_finish_save(
            message=plan.assistant_message, content="hello " * 500, seq=500, status="complete", usage=Usage(1, 500, 501)
        )
    assert len(_sql(before)) == 4, _sql(before)  # lookup, history, one INSERT of both messages, activity touch
    assert _transactions(before) == 1  # the INSERT and the touch together
    assert len(_sql(after)) == 1 and _transactions(after) == 0, _sql(after)  # one UPDATE, however many tokens
    assert message.status == "complete" and Message.objects.get(id=message.id).total_tokens == 501


def test_a_first_message_creates_its_conversation_with_two_statements():
    with CaptureQueriesContext(connection) as ctx:
        plan = services.reply_prepare(user_id=uuid.uuid4(), conversation_id=None, content="hello")
    assert len(_sql(ctx)) == 2, _sql(ctx)  # INSERT conversation, INSERT both messages
    assert _transactions(ctx) == 1
    assert Message.objects.filter(conversation=plan.conversation).count() == 2
