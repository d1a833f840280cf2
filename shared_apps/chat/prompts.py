"""What the model is sent for a reply: the system prompt, as many earlier turns as fit the
context budget (``CHAT_CONTEXT_TOKENS``, newest kept first), and the new message. The earlier
turns are the path from the conversation's first message to the new message's parent: a
reply never sees another branch."""

from __future__ import annotations

import uuid

from django.conf import settings

from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.providers.base import PromptMessage
from shared_apps.chat.selectors import message_path_turns

HISTORY_SCAN_LIMIT = 200  # earlier messages read at most, newest first
TITLE_SOURCE_CHARS = 1000  # of the first message and of its reply, sent for a title
TITLE_INSTRUCTION = (
    "Write a short title (at most six words) for the conversation that follows. "
    "Answer with the title only: no quotes, no final full stop."
)
TITLE_ASK = "The title of this conversation?"
PER_MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    # ~4 characters a token for English; deliberately rough and conservative.
    return (len(text) + 3) // 4 + PER_MESSAGE_OVERHEAD_TOKENS


def prompt_build(
    *, conversation: Conversation, new_content: str, reserve: int, parent_id: uuid.UUID | None
) -> list[PromptMessage]:
    """The system prompt, then as many earlier turns of the path to ``parent_id`` as fit the
    context budget (newest kept first), then the new message. The budget leaves ``reserve``
    tokens for the reply. One query for the history, however deep the tree."""
    system = conversation.system_prompt or settings.CHAT_SYSTEM_PROMPT
    budget = settings.CHAT_CONTEXT_TOKENS - reserve - estimate_tokens(new_content)
    if system:
        budget -= estimate_tokens(system)
    turns: list[PromptMessage] = []
    if parent_id is None:  # the first message of its conversation: no earlier turns
        earlier = []
    else:
        earlier = [
            (role, content)
            for role, content in message_path_turns(leaf_id=parent_id, depth=HISTORY_SCAN_LIMIT)
            if role in (Message.Role.USER, Message.Role.ASSISTANT) and content
        ]
    for role, content in earlier:
        cost = estimate_tokens(content)
        if cost > budget:
            break
        budget -= cost
        turns.append(PromptMessage(role=role, content=content))
    turns.reverse()
    prefix = [PromptMessage(role="system", content=system)] if system else []
    return [*prefix, *turns, PromptMessage(role="user", content=new_content)]


def title_from_content(content: str) -> str:
    """A title from a message's first words, whitespace collapsed (the ``local`` provider's
    generated titles; a conversation SendMessage creates)."""
    return " ".join(content.split())[:60]


def title_prompt_build(*, first_message: str, reply: str) -> list[PromptMessage]:
    """What the model is sent for a conversation's title: the instruction, the first message
    and its reply (each cut to ``TITLE_SOURCE_CHARS``), then the question."""
    return [
        PromptMessage(role="system", content=TITLE_INSTRUCTION),
        PromptMessage(role="user", content=first_message[:TITLE_SOURCE_CHARS]),
        PromptMessage(role="assistant", content=reply[:TITLE_SOURCE_CHARS]),
        PromptMessage(role="user", content=TITLE_ASK),
    ]
