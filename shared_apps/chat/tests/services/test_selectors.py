"""Reads: every lookup is by owner (another user's conversation or message is NotFound, as a
missing one is; a malformed id is ValidationFailed), and pages are bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shared_apps.chat import selectors
from shared_apps.chat.tests.factories import ConversationFactory, MessageFactory
from shared_apps.core.errors import NotFound, ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_conversations(user_id):
    """The user's conversations, the most recently active first."""
    now = timezone.now()
    return [ConversationFactory(user_id=user_id, last_activity_at=now - timedelta(minutes=age)) for age in (1, 2, 3)]


# --- owner filtering ------------------------------------------------------------------------------


def test_the_owner_gets_a_conversation(user_id, conversation):
    assert selectors.conversation_get(user_id=user_id, conversation_id=str(conversation.id)) == conversation


@pytest.mark.parametrize("conversation_id", ["theirs", "missing"])
def test_a_conversation_that_is_not_the_users_is_not_found(user_id, other_user_id, conversation_id):
    # given
    theirs = ConversationFactory(user_id=other_user_id)
    conversation_id = {"theirs": str(theirs.id), "missing": "0b6c1b4e-2f4a-4e55-9d8e-3f7b2a1c0d9e"}.get(
        conversation_id, conversation_id
    )
    # when
    with pytest.raises(NotFound) as raised:
        selectors.conversation_get(user_id=user_id, conversation_id=conversation_id)
    # then another user's conversation looks exactly like a missing one
    assert (raised.value.code, raised.value.message) == ("not_found", "Conversation not found.")


def test_the_list_shows_only_the_users_conversations_most_recent_first(user_id, other_user_id, three_conversations):
    # given
    ConversationFactory(user_id=other_user_id)
    # when
    page = selectors.conversation_list(user_id=user_id, limit=None, offset=None)
    # then
    assert page.items == three_conversations and page.total == 3


def test_messages_of_another_users_conversation_are_not_found(other_user_id, conversation):
    # given
    MessageFactory(conversation=conversation)
    # when / then
    with pytest.raises(NotFound, match="^Conversation not found.$"):
        selectors.message_list(user_id=other_user_id, conversation_id=conversation.id, limit=None, offset=None)


def test_a_message_of_another_user_is_not_found(user_id, other_user_id, conversation):
    # given
    message = MessageFactory(conversation=conversation)
    assert selectors.message_get(user_id=user_id, message_id=str(message.id)) == message
    # when / then
    with pytest.raises(NotFound, match="^Message not found.$"):
        selectors.message_get(user_id=other_user_id, message_id=str(message.id))


@pytest.mark.parametrize("conversation_id", ["not-a-uuid", "", None, "1; DROP TABLE"])
def test_a_malformed_conversation_id_is_invalid_not_missing(user_id, conversation_id):
    # when
    with pytest.raises(ValidationFailed) as raised:
        selectors.conversation_get(user_id=user_id, conversation_id=conversation_id)
    # then: the seed's INVALID_ARGUMENT (400), not NOT_FOUND
    assert (raised.value.code, raised.value.message) == ("invalid_argument", "conversation_id: Must be a valid UUID.")
    assert raised.value.details == {"conversation_id": ["Must be a valid UUID."]}


def test_a_malformed_message_id_is_invalid(user_id):
    with pytest.raises(ValidationFailed, match="^message_id: Must be a valid UUID.$"):
        selectors.message_get(user_id=user_id, message_id="1; DROP TABLE")


# --- pages -------------------------------------------------------------------------------------------


def test_a_page_of_conversations_is_a_window_with_the_total(user_id, three_conversations):
    # when
    page = selectors.conversation_list(user_id=user_id, limit=1, offset=1)
    # then
    assert page.items == [three_conversations[1]] and page.total == 3


def test_a_page_past_the_end_is_empty_with_the_total(user_id, three_conversations):
    page = selectors.conversation_list(user_id=user_id, limit=10, offset=10)
    assert page.items == [] and page.total == 3


def test_messages_are_listed_oldest_first_with_the_total(user_id, conversation):
    # given
    asked = MessageFactory(conversation=conversation)
    answered = MessageFactory(conversation=conversation, assistant=True, parent=asked)
    later = MessageFactory(conversation=conversation)
    # when
    found, page = selectors.message_list(user_id=user_id, conversation_id=str(conversation.id), limit=2, offset=None)
    # then
    assert found == conversation
    assert page.items == [asked, answered] and page.total == 3
    _found, rest = selectors.message_list(user_id=user_id, conversation_id=str(conversation.id), limit=2, offset=2)
    assert rest.items == [later]


@pytest.mark.parametrize(
    ("limit", "offset", "default", "expected"),
    [
        (None, None, 20, (20, 0)),
        (0, 0, 20, (20, 0)),  # proto3 sends 0 for unset
        (None, None, 50, (50, 0)),
        (1, 5, 20, (1, 5)),
        (100, 0, 20, (100, 0)),
    ],
)
def test_page_bounds_that_are_accepted(limit, offset, default, expected):
    assert selectors.window_params(limit=limit, offset=offset, default=default) == expected


@pytest.mark.parametrize(
    ("limit", "offset", "message", "field"),
    [
        (101, 0, "limit: Must be between 1 and 100.", "limit"),
        (-1, 0, "limit: Must be between 1 and 100.", "limit"),
        (2**31 - 1, 0, "limit: Must be between 1 and 100.", "limit"),
        (10, -1, "offset: Must be 0 or more.", "offset"),
    ],
)
def test_page_bounds_that_are_refused(user_id, limit, offset, message, field):
    # when
    with pytest.raises(ValidationFailed) as raised:
        selectors.conversation_list(user_id=user_id, limit=limit, offset=offset)
    # then
    assert (raised.value.code, raised.value.message) == ("invalid_argument", message)
    assert field in raised.value.details
