"""Database work per reply stays small and does not grow with the number of tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shared_apps.chat import selectors, services
from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.prompts import prompt_build
from shared_apps.chat.providers.base import Usage
from shared_apps.chat.tests.factories import ConversationFactory

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


def _tree(depth: int) -> tuple[Conversation, list[Message]]:
    """A conversation whose main branch is ``depth`` messages long, with a second reply beside
    every assistant message on it (a branch at every turn)."""
    conversation = ConversationFactory()
    start = timezone.now()
    path: list[Message] = []
    others: list[Message] = []
    parent = None
    for index in range(depth):
        role = Message.Role.USER if index % 2 == 0 else Message.Role.ASSISTANT
        at = start + timedelta(milliseconds=index)
        message = Message(
            conversation=conversation, user_id=conversation.user_id, role=role, content=f"m{index}", parent=parent
        )
        message.created_at = at
        if role == Message.Role.ASSISTANT:
            others.append(
                Message(
                    conversation=conversation,
                    user_id=conversation.user_id,
                    role=role,
                    content=f"other{index}",
                    parent=parent,
                    created_at=at - timedelta(microseconds=1),
                )
            )
        path.append(message)
        parent = message
    Message.objects.bulk_create(path + others)
    return conversation, path


@pytest.mark.parametrize("depth", [4, 400])
def test_the_active_branch_and_the_prompt_path_cost_the_same_statements_at_any_depth(depth, django_assert_num_queries):
    # given a deep tree, branched at every reply, whose newest leaf ends the main branch
    conversation, path = _tree(depth)
    # when the branch is listed (conversation, newest leaf, path, page, siblings)
    with django_assert_num_queries(5):
        _conversation, page = selectors.message_list(
            user_id=conversation.user_id, conversation_id=conversation.id, limit=100, offset=0
        )
    # and a prompt is built on its leaf (one statement: the path)
    with django_assert_num_queries(1):
        prompt = prompt_build(conversation=conversation, new_content="next", reserve=100, parent_id=path[-1].id)
    # then both are the main branch, whatever its depth
    assert page.total == depth and [m.id for m in page.items] == [m.id for m in path[:100]]
    assert all(len(m.sibling_ids) == 2 for m in page.items if m.role == Message.Role.ASSISTANT)
    assert [p.content for p in prompt][-3:] == [f"m{depth - 2}", f"m{depth - 1}", "next"]
    assert not any(p.content.startswith("other") for p in prompt)
