"""Conversations (create, rename, delete) and storing a message without a reply."""

from __future__ import annotations

import uuid

import pytest

from shared_apps.chat import services
from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.tests.factories import ConversationFactory, MessageFactory
from shared_apps.core.errors import NotFound, RateLimited, ValidationFailed

pytestmark = pytest.mark.django_db


# --- conversation_create ---------------------------------------------------------------------------


def test_a_conversation_is_created_for_its_owner_with_a_trimmed_title(user_id):
    # when
    conversation = services.conversation_create(user_id=user_id, title="  Trip to Rome  ")
    # then
    row = Conversation.objects.get(id=conversation.id)
    assert (row.user_id, row.title) == (user_id, "Trip to Rome")


@pytest.mark.parametrize("title", [None, "", "   "])
def test_a_conversation_without_a_title_has_an_empty_one(user_id, title):
    assert services.conversation_create(user_id=user_id, title=title).title == ""


@pytest.mark.parametrize(
    ("title", "message", "field"),
    [
        ("t" * 201, "title: At most 200 characters.", "title"),
        ("a\x00b", "title: Must not contain NUL characters.", "title"),
    ],
    ids=["too long", "NUL"],
)
def test_a_bad_title_is_refused_and_nothing_is_created(user_id, title, message, field):
    # when
    with pytest.raises(ValidationFailed) as raised:
        services.conversation_create(user_id=user_id, title=title)
    # then
    assert (raised.value.code, raised.value.message) == ("invalid_argument", message)
    assert field in raised.value.details
    assert not Conversation.objects.exists()


def test_a_title_of_exactly_200_characters_is_accepted(user_id):
    assert services.conversation_create(user_id=user_id, title="t" * 200).title == "t" * 200


# --- conversation_rename ---------------------------------------------------------------------------


def test_the_owner_renames_a_conversation(user_id, conversation):
    # when
    renamed = services.conversation_rename(user_id=user_id, conversation_id=str(conversation.id), title=" New ")
    # then
    assert renamed.title == "New"
    assert Conversation.objects.get(id=conversation.id).title == "New"


def test_another_users_conversation_cannot_be_renamed(other_user_id, conversation):
    # when
    with pytest.raises(NotFound, match="^Conversation not found.$"):
        services.conversation_rename(user_id=other_user_id, conversation_id=str(conversation.id), title="Mine now")
    # then
    assert Conversation.objects.get(id=conversation.id).title == conversation.title


def test_a_rename_to_a_bad_title_keeps_the_old_one(user_id, conversation):
    # when
    with pytest.raises(ValidationFailed):
        services.conversation_rename(user_id=user_id, conversation_id=str(conversation.id), title="x" * 201)
    # then
    assert Conversation.objects.get(id=conversation.id).title == conversation.title


# --- conversation_delete ---------------------------------------------------------------------------


def test_the_owner_deletes_a_conversation_with_its_messages(user_id, conversation):
    # given
    MessageFactory(conversation=conversation, assistant=True)
    kept = MessageFactory(conversation=ConversationFactory(user_id=user_id))
    # when
    services.conversation_delete(user_id=user_id, conversation_id=str(conversation.id))
    # then
    assert not Conversation.objects.filter(id=conversation.id).exists()
    assert list(Message.objects.all()) == [kept]


@pytest.mark.parametrize("conversation_id", ["theirs", "0b6c1b4e-2f4a-4e55-9d8e-3f7b2a1c0d9e"])
def test_deleting_a_conversation_that_is_not_the_users_is_not_found(user_id, other_user_id, conversation_id):
    # given
    theirs = ConversationFactory(user_id=other_user_id)
    MessageFactory(conversation=theirs)
    # when
    with pytest.raises(NotFound, match="^Conversation not found.$"):
        services.conversation_delete(
            user_id=user_id, conversation_id=str(theirs.id) if conversation_id == "theirs" else conversation_id
        )
    # then
    assert Conversation.objects.filter(id=theirs.id).exists() and Message.objects.filter(conversation=theirs).exists()


def test_deleting_with_a_malformed_id_is_invalid():
    with pytest.raises(ValidationFailed, match="^conversation_id: Must be a valid UUID.$"):
        services.conversation_delete(user_id=uuid.uuid4(), conversation_id="not-a-uuid")


# --- message_store -----------------------------------------------------------------------------------


def test_a_first_message_is_stored_in_a_new_conversation_named_after_it(user_id):
    # when
    message = services.message_store(user_id=user_id, conversation_id=None, content="  Plan   a\ntrip " + "x" * 80)
    # then the title is the message's first 60 characters, whitespace collapsed
    conversation = Conversation.objects.get()
    assert conversation.user_id == user_id
    assert conversation.title == ("Plan a trip " + "x" * 80)[:60]
    row = Message.objects.get()
    assert row == message and row.conversation == conversation
    assert (row.role, row.status, row.user_id) == ("user", "complete", user_id)
    assert row.content == "  Plan   a\ntrip " + "x" * 80


def test_a_message_is_stored_in_the_users_conversation_without_a_reply(user_id, conversation):
    # given
    before = Conversation.objects.get(id=conversation.id).last_activity_at
    # when
    message = services.message_store(user_id=user_id, conversation_id=str(conversation.id), content="Note to self")
    # then
    assert list(Message.objects.filter(conversation=conversation)) == [message]
    assert message.content == "Note to self" and message.role == "user"
    assert Conversation.objects.get(id=conversation.id).last_activity_at > before


def test_a_message_to_another_users_conversation_is_not_found(other_user_id, conversation):
    # when
    with pytest.raises(NotFound, match="^Conversation not found.$"):
        services.message_store(user_id=other_user_id, conversation_id=str(conversation.id), content="hi")
    # then
    assert not Message.objects.exists()


@pytest.mark.parametrize("content", ["", "  ", "a\x00"])
def test_a_bad_message_is_refused_and_nothing_is_stored(user_id, content):
    with pytest.raises(ValidationFailed, match="^content: "):
        services.message_store(user_id=user_id, conversation_id=None, content=content)
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_stored_messages_count_against_the_message_rate(user_id, settings, clock):
    # given
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 2
    services.message_store(user_id=user_id, conversation_id=None, content="one")
    services.message_store(user_id=user_id, conversation_id=None, content="two")
    # when
    with pytest.raises(RateLimited) as raised:
        services.message_store(user_id=user_id, conversation_id=None, content="three")
    # then
    assert raised.value.retry_after == 45
    assert Message.objects.count() == 2
