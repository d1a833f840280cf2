"""Reads of the chat service. Another user's conversation is indistinguishable from a
missing one: every lookup filters by owner and raises NotFound."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef

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
    """The active branch (``branch_leaf``: the chosen leaf, else the newest), root first; each
    message carries its ``sibling_ids``. A bounded number of statements whatever the tree."""
    conversation = conversation_get(user_id=user_id, conversation_id=conversation_id)
    limit, offset = window_params(limit=limit, offset=offset, default=50)
    leaf_id = branch_leaf(conversation=conversation)
    path = message_path_ids(leaf_id=leaf_id) if leaf_id is not None else []
    window = path[offset : offset + limit]
    by_id = {m.id: m for m in Message.objects.filter(id__in=window)} if window else {}
    items = [by_id[message_id] for message_id in window if message_id in by_id]
    message_siblings_attach(messages=items)
    return conversation, Page(items=items, total=len(path))


def branch_messages(*, conversation: Conversation) -> list[Message]:
    """Every message of the conversation's active branch, root first, with ``sibling_ids``."""
    leaf_id = branch_leaf(conversation=conversation)
    path = message_path_ids(leaf_id=leaf_id) if leaf_id is not None else []
    by_id = {m.id: m for m in Message.objects.filter(id__in=path)} if path else {}
    return message_siblings_attach(messages=[by_id[i] for i in path if i in by_id])


# --- the message tree: each message has a parent (null for the first); siblings share it ----------

_M = Message._meta.db_table


def _db_id(value: uuid.UUID) -> object:
    return Message._meta.pk.get_db_prep_value(value, connection)


def _uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def branch_leaf(*, conversation: Conversation) -> uuid.UUID | None:
    """The last message of the branch shown: the one chosen (``active_leaf``, moved to each new
    message), else the newest message that has no reply or follow-up. None: no messages."""
    if conversation.active_leaf_id is not None:
        return conversation.active_leaf_id
    return (
        Message.objects.filter(conversation=conversation)
        .filter(~Exists(Message.objects.filter(parent=OuterRef("pk"))))
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )


def message_path_ids(*, leaf_id: uuid.UUID, depth: int | None = None) -> list[uuid.UUID]:
    """The ids from the root to ``leaf_id`` (root first): one recursive query. ``depth``: at
    most that many, the ones nearest the leaf."""
    return [_uuid(row[0]) for row in reversed(_path_rows(leaf_id, ("id",), depth))]


def message_path_turns(*, leaf_id: uuid.UUID, depth: int) -> list[tuple[str, str]]:
    """(role, content) of the path to ``leaf_id``, newest first, at most ``depth`` of them:
    what a reply's prompt is built from (one recursive query, never another branch)."""
    return [(row[0], row[1]) for row in _path_rows(leaf_id, ("role", "content"), depth)]


def _path_rows(leaf_id: uuid.UUID, columns: tuple[str, ...], depth: int | None) -> list[tuple]:
    """``columns`` of the path to ``leaf_id``, the leaf first (at most ``depth`` rows)."""
    select = ", ".join(f"m.{column}" for column in columns)
    stop = "WHERE path.depth < %s" if depth is not None else ""
    # Only the table's and columns' names are formatted in (constants), never a value.
    sql = (
        f"WITH RECURSIVE path(id, parent_id, depth) AS ("  # noqa: S608
        f" SELECT id, parent_id, 1 FROM {_M} WHERE id = %s"
        f" UNION ALL"
        f" SELECT m.id, m.parent_id, path.depth + 1 FROM {_M} m JOIN path ON m.id = path.parent_id {stop}"
        f") SELECT {select} FROM path JOIN {_M} m ON m.id = path.id ORDER BY path.depth"
    )
    params: list[object] = [_db_id(leaf_id)]
    if depth is not None:
        params.append(depth)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def message_newest_leaf_below(*, message_id: uuid.UUID) -> uuid.UUID:
    """The newest leaf among ``message_id`` and the messages below it (one recursive query)."""
    sql = (  # names only, as above
        f"WITH RECURSIVE below(id) AS ("  # noqa: S608
        f" SELECT id FROM {_M} WHERE id = %s"
        f" UNION ALL"
        f" SELECT m.id FROM {_M} m JOIN below ON m.parent_id = below.id"
        f") SELECT m.id FROM {_M} m JOIN below ON m.id = below.id"
        f" WHERE NOT EXISTS (SELECT 1 FROM {_M} c WHERE c.parent_id = m.id)"
        f" ORDER BY m.created_at DESC, m.id DESC LIMIT 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_db_id(message_id)])
        row = cursor.fetchone()
    return _uuid(row[0]) if row else message_id


def message_siblings_attach(*, messages: list[Message]) -> list[Message]:
    """Set ``sibling_ids`` on each message (every message at its place, itself included,
    oldest first): one query for all of them."""
    if not messages:
        return messages
    parents = {m.parent_id for m in messages if m.parent_id is not None}
    conversations = {m.conversation_id for m in messages if m.parent_id is None}
    query = Message.objects.none()
    if parents:
        query = query | Message.objects.filter(parent_id__in=parents)
    if conversations:
        query = query | Message.objects.filter(conversation_id__in=conversations, parent__isnull=True)
    siblings: dict[tuple[object, object], list[uuid.UUID]] = {}
    rows = query.order_by("created_at", "id").values_list("id", "parent_id", "conversation_id")
    for message_id, parent_id, conversation_id in rows:
        key = (parent_id, conversation_id if parent_id is None else None)
        siblings.setdefault(key, []).append(message_id)
    for message in messages:
        key = (message.parent_id, message.conversation_id if message.parent_id is None else None)
        message.sibling_ids = siblings.get(key) or [message.id]
    return messages


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
