"""factory_boy factories for the chat app's models.

A user is only a UUID here (the chat service knows users by the id in their token), so a
conversation gets a fresh ``user_id`` unless one is given, and its messages inherit it.

    conversation = ConversationFactory(user_id=user_id)
    question = MessageFactory(conversation=conversation, content="Capital of France?")
    answer = MessageFactory(conversation=conversation, assistant=True, parent=question, content="Paris.")
    in_flight = MessageFactory(conversation=conversation, streaming=True)  # an empty reply being produced

Messages get strictly increasing ``created_at`` values in the order they are made, and each
follows the conversation's newest message (its ``parent``) unless another parent is given
(``parent=None`` for a second first message): the tree the history the model is sent is read from.
An assistant message is always newer than the user message it answers.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.providers.local import LOCAL_MODEL

_clock_lock = threading.Lock()
_last_time: datetime | None = None


def next_created_at(after: datetime | None = None) -> datetime:
    """Now, but strictly later than every time handed out before (and than ``after``)."""
    global _last_time
    with _clock_lock:
        value = timezone.now()
        for floor in (_last_time, after):
            if floor is not None and value <= floor:
                value = floor + timedelta(microseconds=1)
        _last_time = value
        return value


def _created_at(message: Any) -> datetime:
    parent = message.parent
    return next_created_at(after=parent.created_at if parent is not None else None)


def _newest(message: Any) -> Message | None:
    """A message follows the conversation's newest one unless its ``parent`` is given: the
    linear history a conversation has until it branches."""
    return Message.objects.filter(conversation=message.conversation).order_by("-created_at", "-id").first()


class ConversationFactory(DjangoModelFactory[Conversation]):
    class Meta:
        model = Conversation

    user_id: uuid.UUID = factory.LazyFunction(uuid.uuid4)
    title: str = factory.Sequence(lambda n: f"Conversation {n}")
    model: str = ""
    system_prompt: str = ""
    title_source: str = factory.LazyAttribute(lambda c: "user" if c.title else "none")


class MessageFactory(DjangoModelFactory[Message]):
    """A user message by default; ``assistant=True`` for a complete reply (answering a new
    user message of the same conversation unless ``parent`` is given), ``streaming=True``
    for a reply still being produced (empty, status ``streaming``)."""

    class Meta:
        model = Message

    class Params:
        assistant = factory.Trait(
            role=Message.Role.ASSISTANT,
            model=LOCAL_MODEL,
            parent=factory.SubFactory(
                "shared_apps.chat.tests.factories.MessageFactory",
                conversation=factory.SelfAttribute("..conversation"),
                user_id=factory.SelfAttribute("..user_id"),
            ),
            content=factory.Sequence(lambda n: f"answer {n}"),
        )
        streaming = factory.Trait(assistant=True, status=Message.Status.STREAMING, content="", seq=0)

    conversation: Conversation = factory.SubFactory(ConversationFactory)
    user_id: uuid.UUID = factory.SelfAttribute("conversation.user_id")
    role: str = Message.Role.USER
    content: str = factory.Sequence(lambda n: f"question {n}")
    status: str = Message.Status.COMPLETE
    model: str = ""
    parent: Message | None = factory.LazyAttribute(_newest)
    created_at: datetime = factory.LazyAttribute(_created_at)
