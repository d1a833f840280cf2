"""Reads of the chat service. Another user's conversation is indistinguishable from a
missing one: every lookup filters by owner and raises NotFound."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings

from shared_apps.chat.models import Conversation, Message
from shared_apps.core.errors import NotFound, ValidationFailed

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
# The gRPC fields are int32; REST takes any integer, and past the database's bigint the
# query itself fails. No page starts that far in.
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class Page:
    items: list
    total: int


def window_params(*, limit: int | None, offset: int | None, default: int = DEFAULT_PAGE_SIZE) -> tuple[int, int]:
    """0/None is the default (proto3 sends 0 for unset)."""
    limit = limit or default
    offset = offset or 0
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit: Must be between 1 and {MAX_PAGE_SIZE}.", details={"limit": ["Out of range."]})
    if offset < 0:
        raise ValidationFailed("offset: Must be 0 or more.", details={"offset": ["Must be 0 or more."]})
    if offset > MAX_OFFSET:
        raise ValidationFailed(f"offset: At most {MAX_OFFSET}.", details={"offset": ["Out of range."]})
    return limit, offset


def parse_uuid(value: str | uuid.UUID | None, *, field: str = "conversation_id") -> uuid.UUID:
    """A malformed id is the caller's mistake (``invalid_argument``, as the seed answers); a
    well-formed id that names nothing of the caller's is ``not_found`` at the lookup."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"{field}: Must be a valid UUID.", details={field: ["Must be a valid UUID."]}) from exc


def conversation_get(*, user_id: uuid.UUID, conversation_id: str | uuid.UUID) -> Conversation:
    conversation = Conversation.objects.filter(id=parse_uuid(conversation_id), user_id=user_id).first()
    if conversation is None:
        raise NotFound("Conversation not found.")
    return conversation


def conversation_list(*, user_id: uuid.UUID, limit: int | None, offset: int | None) -> Page:
    limit, offset = window_params(limit=limit, offset=offset)
    queryset = Conversation.objects.filter(user_id=user_id).order_by("-last_activity_at", "-id")
    return Page(items=list(queryset[offset : offset + limit]), total=queryset.count())


def message_list(
    *, user_id: uuid.UUID, conversation_id: str | uuid.UUID, limit: int | None, offset: int | None
) -> tuple[Conversation, Page]:
    """Oldest first."""
    conversation = conversation_get(user_id=user_id, conversation_id=conversation_id)
    limit, offset = window_params(limit=limit, offset=offset, default=50)
    queryset = Message.objects.filter(conversation=conversation).order_by("created_at", "id")
    return conversation, Page(items=list(queryset[offset : offset + limit]), total=queryset.count())


def message_get(*, user_id: uuid.UUID, message_id: str | uuid.UUID) -> Message:
    message = Message.objects.filter(id=parse_uuid(message_id, field="message_id"), user_id=user_id).first()
    if message is None:
        raise NotFound("Message not found.")
    return message


@dataclass(frozen=True)
class ModelChoices:
    ids: tuple[str, ...]  # what a caller may ask for, in the configured order
    default: str  # used when a request names no model


def model_choices() -> ModelChoices:
    """The models a caller may name in a request (``CHAT_ALLOWED_MODELS``, which the settings
    check includes ``CHAT_MODEL``) and the default one. The same for every caller today."""
    return ModelChoices(ids=tuple(settings.CHAT_ALLOWED_MODELS), default=settings.CHAT_MODEL)
