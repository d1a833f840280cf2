"""A conversation as a file to download: JSON (the payload shapes every transport uses) or
Markdown (a title heading, then each message under its role). Built here, not in a view, so
every transport exports the same bytes."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import Length

from shared_apps.chat import selectors
from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.payloads import conversation_data, message_data
from shared_apps.core.errors import PayloadTooLarge, ValidationFailed

FORMATS = {"json": ("application/json", "json"), "markdown": ("text/markdown; charset=utf-8", "md")}
UNTITLED = "Untitled conversation"
ROLE_HEADINGS = {"user": "User", "assistant": "Assistant", "system": "System"}


@dataclass(frozen=True)
class Export:
    filename: str  # ASCII letters, digits, '-' and '.', safe in a Content-Disposition header
    content_type: str
    body: bytes


def conversation_export(*, user_id: uuid.UUID, conversation_id: str | uuid.UUID, fmt: str | None) -> Export:
    """The caller's conversation with the messages of its active branch (as listed), oldest
    first. Another user's
    conversation is ``NotFound``; a format other than ``json`` or ``markdown`` is invalid."""
    fmt = (fmt or "json").strip().lower()
    if fmt not in FORMATS:
        raise ValidationFailed(
            "format: Must be one of json, markdown.", details={"format": ["Must be one of json, markdown."]}
        )
    conversation = selectors.conversation_get(user_id=user_id, conversation_id=conversation_id)
    _size_check(conversation)
    messages = selectors.branch_messages(conversation=conversation)
    content_type, extension = FORMATS[fmt]
    body = export_json(conversation, messages) if fmt == "json" else export_markdown(conversation, messages).encode()
    return Export(filename=export_filename(conversation, extension), content_type=content_type, body=body)


def _size_check(conversation: Conversation) -> None:
    """An export is built in memory: one conversation over ``CHAT_EXPORT_MAX_CHARS`` characters
    is refused before any message is loaded. (Messages are stored at the message rate with no
    model call, so a conversation could grow to gigabytes, and a few exports of it at once
    would take a chat process's memory and every stream on it.)"""
    chars = Message.objects.filter(conversation=conversation).aggregate(chars=Sum(Length("content")))["chars"] or 0
    limit = settings.CHAT_EXPORT_MAX_CHARS
    if chars > limit:
        raise PayloadTooLarge(
            f"The conversation holds {chars} characters; an export holds at most {limit}. "
            "Read its messages page by page instead.",
            details={"chars": chars, "max_chars": limit},
        )


def export_json(conversation: Conversation, messages: list[Message]) -> bytes:
    return orjson.dumps(
        {"conversation": conversation_data(conversation), "messages": [message_data(m) for m in messages]},
        option=orjson.OPT_INDENT_2,
    )


def export_markdown(conversation: Conversation, messages: list[Message]) -> str:
    title = " ".join(conversation.title.split()) or UNTITLED  # one line, whatever the title holds
    parts = [f"# {title}\n"]
    for message in messages:
        heading = ROLE_HEADINGS.get(message.role, message.role.capitalize())
        if message.status != Message.Status.COMPLETE:
            heading += f" ({message.status})"
        parts.append(f"## {heading}\n\n{message.content.rstrip()}\n")
    return "\n".join(parts)


def export_filename(conversation: Conversation, extension: str) -> str:
    """``<slug of the title>-<first 8 of the id>.<ext>``: ASCII only, so no quote, slash, CR/LF
    or non-ASCII character of a title reaches the header."""
    ascii_title = unicodedata.normalize("NFKD", conversation.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:50].strip("-") or "conversation"
    return f"{slug}-{str(conversation.id)[:8]}.{extension}"
