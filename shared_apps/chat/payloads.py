"""The shapes the chat service sends, built in one place for every transport.

A message, its token usage and the frames of a reply (``delta``, ``done``, ``error``) are
plain JSON-ready dicts: the websocket sends them as they are, the reply log keeps them (and
mirrors them to Redis for other processes), REST renders them, and the gRPC servicers map
them to protobuf messages. Nothing here knows a transport.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.selectors import ModelChoices

if TYPE_CHECKING:
    from shared_apps.chat.search import SearchHit
from shared_apps.core.errors import (
    ApplicationError,
    NotFound,
    ReplyInterrupted,
    ServiceUnavailable,
    UpstreamError,
    UpstreamTimeout,
)


class MessageData(TypedDict):
    id: str
    conversation_id: str
    user_id: str
    role: str
    content: str
    status: str
    model: str
    created_at: str | None  # RFC 3339, UTC, "Z"
    updated_at: str | None
    parent_id: str | None  # the message this one follows; None for the first
    sibling_ids: list[str]  # every message at its place (same parent), itself included, oldest first


class UsageData(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class DeltaFrame(TypedDict, total=False):
    type: Literal["delta"]
    message_id: str
    seq: int  # the last delta this frame carries; deltas count from 1 without gaps
    content: str
    from_seq: int  # present only when the frame joins several deltas (a reader behind)


class ConversationData(TypedDict):
    id: str
    title: str
    created_at: str | None
    updated_at: str | None


class SearchResultData(TypedDict):
    conversation: ConversationData
    message_id: str | None  # None: the title matched
    snippet: str


class ModelData(TypedDict):
    id: str


class ModelsData(TypedDict):
    models: list[ModelData]
    default: str


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def message_data(message: Message) -> MessageData:
    """A message as every transport shows it (a hot path: no serializer)."""
    return {
        "id": str(message.id),
        "conversation_id": str(message.conversation_id),
        "user_id": str(message.user_id),
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "model": message.model,
        "created_at": iso(message.created_at),
        "updated_at": iso(message.updated_at),
        "parent_id": str(message.parent_id) if message.parent_id is not None else None,
        # Set by selectors.message_siblings_attach or by the service that made the message.
        "sibling_ids": [str(i) for i in getattr(message, "sibling_ids", None) or (message.id,)],
    }


def conversation_data(conversation: Conversation) -> ConversationData:
    """A conversation as REST lists it (``ConversationSerializer``'s fields and formats)."""
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
    }


def search_result_data(hit: SearchHit) -> SearchResultData:
    return {"conversation": conversation_data(hit.conversation), "message_id": hit.message_id, "snippet": hit.snippet}


def models_data(choices: ModelChoices) -> ModelsData:
    return {"models": [{"id": model_id} for model_id in choices.ids], "default": choices.default}


def usage_data(message: Message) -> UsageData:
    return {
        "prompt_tokens": message.prompt_tokens or 0,
        "completion_tokens": message.completion_tokens or 0,
        "total_tokens": message.total_tokens or 0,
    }


# --- the frames of one reply ------------------------------------------------------------------


def delta_frame(message_id: str, seq: int, content: str) -> DeltaFrame:
    return {"type": "delta", "message_id": message_id, "seq": seq, "content": content}


def joined_delta_frame(message_id: str, from_seq: int, seq: int, content: str) -> DeltaFrame:
    """Deltas ``from_seq``..``seq`` as one frame, for a reader that fell behind."""
    if from_seq == seq:
        return delta_frame(message_id, seq, content)
    return {"type": "delta", "message_id": message_id, "seq": seq, "content": content, "from_seq": from_seq}


def done_frame(message: Message) -> dict[str, Any]:
    return {"type": "done", "message": message_data(message), "usage": usage_data(message)}


def error_frame(message_id: Any, error: ApplicationError) -> dict[str, Any]:
    return {"type": "error", "message_id": str(message_id), "code": error.code, "message": error.message}


def is_final(frame: dict[str, Any]) -> bool:
    return frame["type"] in ("done", "error")


ERRORS_BY_CODE: dict[str, type[ApplicationError]] = {
    NotFound.code: NotFound,
    UpstreamError.code: UpstreamError,
    UpstreamTimeout.code: UpstreamTimeout,
    ServiceUnavailable.code: ServiceUnavailable,
    ReplyInterrupted.code: ReplyInterrupted,
}


def error_from_code(code: str, message: str) -> ApplicationError:
    return ERRORS_BY_CODE.get(code, UpstreamError)(message)


def error_from_frame(frame: dict[str, Any]) -> ApplicationError:
    """The domain error an ``error`` frame stands for (sync callers raise it)."""
    return error_from_code(frame.get("code", ""), frame.get("message", "The reply failed."))
