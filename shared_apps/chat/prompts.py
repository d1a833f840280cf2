"""What the model is sent for a reply: the system prompt, as many earlier turns as fit the
context budget (``CHAT_CONTEXT_TOKENS``, newest kept first), and the new message."""

from __future__ import annotations

from django.conf import settings

from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.providers.base import PromptMessage

HISTORY_SCAN_LIMIT = 200  # earlier messages read at most, newest first
PER_MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    # ~4 characters a token for English; deliberately rough and conservative.
    return (len(text) + 3) // 4 + PER_MESSAGE_OVERHEAD_TOKENS


def prompt_build(
    *, conversation: Conversation, new_content: str, reserve: int, history: bool = True
) -> list[PromptMessage]:
    """The system prompt, then as many earlier turns as fit the context budget (newest kept
    first), then the new message. The budget leaves ``reserve`` tokens for the reply."""
    system = conversation.system_prompt or settings.CHAT_SYSTEM_PROMPT
    budget = settings.CHAT_CONTEXT_TOKENS - reserve - estimate_tokens(new_content)
    if system:
        budget -= estimate_tokens(system)
    turns: list[PromptMessage] = []
    if not history:  # a conversation created for this message has no earlier turns
        earlier = []
    else:
        earlier = (
            Message.objects.filter(conversation=conversation, role__in=[Message.Role.USER, Message.Role.ASSISTANT])
            .exclude(content="")
            .order_by("-created_at", "-id")
            .values_list("role", "content")[:HISTORY_SCAN_LIMIT]
        )
    for role, content in earlier:
        cost = estimate_tokens(content)
        if cost > budget:
            break
        budget -= cost
        turns.append(PromptMessage(role=role, content=content))
    turns.reverse()
    prefix = [PromptMessage(role="system", content=system)] if system else []
    return [*prefix, *turns, PromptMessage(role="user", content=new_content)]
