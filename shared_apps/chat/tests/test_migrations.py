"""The branches migration keeps today's conversations: each message follows the one before it
in its conversation, titled conversations keep their title as the user's; and it goes back."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("chat", "0003_reply_lease")]
AFTER = [("chat", "0004_branches_and_title_source")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture
def at_0003():
    apps = _migrate(BEFORE)
    yield apps
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("chat"))


def _sample(apps) -> dict:
    """Two linear conversations as stored before branches: question, reply (reply_to), question,
    a reply that failed, a stored-only message; and an untitled one."""
    Conversation = apps.get_model("chat", "Conversation")
    Message = apps.get_model("chat", "Message")
    user_id = uuid.uuid4()
    start = timezone.now()
    titled = Conversation.objects.create(user_id=user_id, title="Trip")
    untitled = Conversation.objects.create(user_id=user_id, title="")
    ids: dict[str, list] = {"titled": [], "untitled": []}
    for conversation, key in ((titled, "titled"), (untitled, "untitled")):
        previous_user = None
        for index, role in enumerate(["user", "assistant", "user", "assistant", "user"]):
            message = Message.objects.create(
                conversation=conversation,
                user_id=user_id,
                role=role,
                content=f"{key} {index}",
                status="failed" if index == 3 else "complete",
                reply_to=previous_user if role == "assistant" else None,
                # created out of id order: the order is created_at's, not the ids'
                created_at=start
                + timedelta(seconds=index)
                + (timedelta(minutes=1) if key == "untitled" else timedelta()),
            )
            previous_user = message if role == "user" else None
            ids[key].append(message.id)
    return {"titled": titled.id, "untitled": untitled.id, "ids": ids}


def test_each_message_follows_the_one_before_it_and_titles_become_the_users(at_0003):
    # given conversations stored before branches
    sample = _sample(at_0003)
    # when the migration runs
    apps = _migrate(AFTER)
    # then each message's parent is the previous message of its conversation, the first has none
    Message = apps.get_model("chat", "Message")
    Conversation = apps.get_model("chat", "Conversation")
    for key in ("titled", "untitled"):
        ids = sample["ids"][key]
        parents = dict(Message.objects.filter(id__in=ids).values_list("id", "parent_id"))
        assert [parents[i] for i in ids] == [None, *ids[:-1]]
    # and a titled conversation's title is the user's, an untitled one has none
    assert Conversation.objects.get(id=sample["titled"]).title_source == "user"
    assert Conversation.objects.get(id=sample["untitled"]).title_source == "none"


def test_going_back_restores_each_replys_reply_to(at_0003):
    # given the sample migrated forward, and a second reply to the first question (a branch)
    sample = _sample(at_0003)
    apps = _migrate(AFTER)
    Message = apps.get_model("chat", "Message")
    first_question, first_reply = sample["ids"]["titled"][:2]
    Message.objects.create(
        conversation_id=sample["titled"],
        user_id=Message.objects.get(id=first_question).user_id,
        role="assistant",
        content="again",
        parent_id=first_question,
        created_at=timezone.now() + timedelta(hours=1),
    )
    # when it is migrated back
    apps = _migrate(BEFORE)
    # then each reply answers its question again (the oldest reply keeps the one-to-one link)
    Message = apps.get_model("chat", "Message")
    for key in ("titled", "untitled"):
        ids = sample["ids"][key]
        reply_to = dict(Message.objects.filter(id__in=ids).values_list("id", "reply_to_id"))
        assert [reply_to[i] for i in ids] == [None, ids[0], None, ids[2], None]
    assert Message.objects.get(content="again").reply_to_id is None
    assert Message.objects.get(id=first_reply).reply_to_id == first_question
