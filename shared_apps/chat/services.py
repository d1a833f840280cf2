"""The chat service layer: conversations, messages and the stored side of replies.

REST views, gRPC servicers and websocket consumers call these functions (async callers
through ``async_bridge.db``). Realtime events are published only after the transaction
commits (``events``). The model call itself is in ``reply_producer``; this module owns what
is written before and after it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared_apps.chat import events, limits
from shared_apps.chat.models import Conversation, Message
from shared_apps.chat.prompts import estimate_tokens, prompt_build, title_from_content, title_prompt_build
from shared_apps.chat.providers import provider_get
from shared_apps.chat.providers.base import CompletionRequest, Usage
from shared_apps.chat.selectors import (
    branch_leaf,
    conversation_get,
    message_get,
    message_newest_leaf_below,
    message_siblings_attach,
    parse_uuid,
)
from shared_apps.core.errors import NotFound, ReplyInterrupted, ValidationFailed

logger = structlog.get_logger(__name__)

MAX_TITLE_LENGTH = 200
MAX_CLIENT_MESSAGE_ID_LENGTH = 100


# --- conversations ------------------------------------------------------------------------------


def _no_nul(field: str, value: str) -> str:
    """PostgreSQL text cannot hold NUL: refuse it as bad input instead of failing in the
    database (gRPC strings and websocket JSON reach here unchecked; DRF refuses NUL itself)."""
    if "\x00" in value:
        raise ValidationFailed(f"{field}: Must not contain NUL characters.", details={field: ["Invalid character."]})
    return value


def _title_clean(title: str | None) -> str:
    title = _no_nul("title", (title or "").strip())
    if len(title) > MAX_TITLE_LENGTH:
        raise ValidationFailed(f"title: At most {MAX_TITLE_LENGTH} characters.", details={"title": ["Too long."]})
    return title


def _title_source(title: str) -> str:
    return Conversation.TitleSource.USER if title else Conversation.TitleSource.NONE


def conversation_create(*, user_id: uuid.UUID, title: str | None = "") -> Conversation:
    title = _title_clean(title)
    limits.conversation_rate_consume(user_id=user_id)
    conversation = Conversation.objects.create(user_id=user_id, title=title, title_source=_title_source(title))
    logger.info("conversation_created", conversation_id=str(conversation.id))
    return conversation


def conversation_rename(*, user_id: uuid.UUID, conversation_id: str | uuid.UUID, title: str) -> Conversation:
    conversation = conversation_get(user_id=user_id, conversation_id=conversation_id)
    conversation.title = _title_clean(title)
    conversation.title_source = _title_source(conversation.title)  # a generated title never overwrites it
    conversation.save(update_fields=["title", "title_source", "updated_at"])
    return conversation


def conversation_delete(*, user_id: uuid.UUID, conversation_id: str | uuid.UUID) -> None:
    deleted, _ = Conversation.objects.filter(id=parse_uuid(conversation_id), user_id=user_id).delete()
    if not deleted:
        raise NotFound("Conversation not found.")
    logger.info("conversation_deleted", conversation_id=str(conversation_id))


# --- messages -----------------------------------------------------------------------------------


def content_clean(content: str | None) -> str:
    """Refuse an empty or oversized message before anything is stored or the model is called."""
    if content is None or not content.strip():
        raise ValidationFailed("content: The message is empty.", details={"content": ["Must not be empty."]})
    _no_nul("content", content)
    if len(content) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            f"content: At most {settings.CHAT_MAX_MESSAGE_CHARS} characters.", details={"content": ["Too long."]}
        )
    return content


def _client_message_id_clean(value: str | None) -> str | None:
    value = (value or "").strip() or None
    if value is not None:
        _no_nul("client_message_id", value)
    if value is not None and len(value) > MAX_CLIENT_MESSAGE_ID_LENGTH:
        raise ValidationFailed(
            "client_message_id: At most 100 characters.", details={"client_message_id": ["Too long."]}
        )
    return value


def _conversation_for_message(*, user_id: uuid.UUID, conversation_id: str | None, content: str) -> Conversation:
    if conversation_id:
        return conversation_get(user_id=user_id, conversation_id=conversation_id)
    # No reply follows (SendMessage), so no title will be generated: its first words now.
    return Conversation.objects.create(
        user_id=user_id, title=title_from_content(content), title_source=Conversation.TitleSource.AUTO
    )


def _touch(conversation: Conversation, *, leaf: Message | None = None) -> None:
    """Mark activity; ``leaf``: the new message the conversation's active branch now ends at."""
    now = timezone.now()
    fields: dict = {"last_activity_at": now, "updated_at": now}
    if leaf is not None:
        fields["active_leaf"] = leaf.id
        conversation.active_leaf_id = leaf.id
    Conversation.objects.filter(id=conversation.id).update(**fields)
    conversation.last_activity_at = now


def message_store(*, user_id: uuid.UUID, conversation_id: str | None, content: str) -> Message:
    """Store a user message with no AI reply (the seed's SendMessage)."""
    content = content_clean(content)
    limits.message_rate_consume(user_id=user_id)
    with transaction.atomic():
        conversation = _conversation_for_message(user_id=user_id, conversation_id=conversation_id, content=content)
        message = Message.objects.create(
            conversation=conversation,
            user_id=user_id,
            role=Message.Role.USER,
            content=content,
            parent_id=branch_leaf(conversation=conversation),
        )
        message.sibling_ids = [message.id]  # follows the branch's leaf
        _touch(conversation, leaf=message)
        events.message_created_after_commit(message)
    return message


# --- replies: what is stored before and after the model call ------------------------------------


@dataclass(frozen=True)
class ReplyPlan:
    conversation: Conversation
    user_message: Message
    assistant_message: Message
    request: CompletionRequest | None
    existing: bool  # a repeated client_message_id: no new messages, no model call
    conversation_is_new: bool = False  # created by reply_store with the messages
    user_message_is_new: bool = True  # False when regenerating: the user message is stored already
    title_wanted: bool = False  # an untitled conversation's first reply: a title is generated after it


def _model_choose(requested: str | None, conversation: Conversation | None) -> str:
    model = (requested or "").strip() or (conversation.model if conversation else "") or settings.CHAT_MODEL
    if model not in settings.CHAT_ALLOWED_MODELS:
        allowed = ", ".join(settings.CHAT_ALLOWED_MODELS)
        raise ValidationFailed(
            f"model: '{model}' is not allowed here; allowed: {allowed}.", details={"model": [allowed]}
        )
    return model


def _params_clean(temperature: float | None, max_tokens: int | None) -> tuple[float | None, int | None]:
    if temperature is not None and not 0 <= temperature <= 2:
        raise ValidationFailed("temperature: Must be between 0 and 2.", details={"temperature": ["Out of range."]})
    if max_tokens is not None and not 1 <= max_tokens <= settings.CHAT_MAX_OUTPUT_TOKENS:
        raise ValidationFailed(
            f"max_tokens: Must be between 1 and {settings.CHAT_MAX_OUTPUT_TOKENS}.",
            details={"max_tokens": ["Out of range."]},
        )
    return temperature, max_tokens


def _existing_plan(
    *, user_id: uuid.UUID, conversation_id: str | uuid.UUID | None, client_message_id: str | None
) -> ReplyPlan | None:
    """The exchange a ``client_message_id`` made already: a user message (a message or an edit)
    and its first reply, or a regenerated reply and the user message it answers. None without
    an id."""
    if not client_message_id:
        return None
    lookup = Message.objects.select_related("conversation", "parent").filter(
        user_id=user_id, client_message_id=client_message_id
    )
    if conversation_id:
        lookup = lookup.filter(conversation_id=parse_uuid(conversation_id))
    found = lookup.order_by("created_at", "id").first()
    if found is None:
        return None
    if found.role == Message.Role.ASSISTANT:
        user_message, assistant = found.parent, found
    else:
        user_message = found
        assistant = (
            Message.objects.filter(parent=found, role=Message.Role.ASSISTANT).order_by("created_at", "id").first()
        )
    if user_message is None or assistant is None:
        return None
    message_siblings_attach(messages=[user_message, assistant])
    return ReplyPlan(found.conversation, user_message, assistant, None, existing=True)


def reply_plan(
    *,
    user_id: uuid.UUID,
    conversation_id: str | None,
    content: str,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    client_message_id: str | None = None,
    request_id: str | None = None,
) -> ReplyPlan:
    """Everything a reply needs before the model is called, with nothing written: validate,
    find the conversation (the caller's only), apply the limits, build the prompt, and make
    the user message and an empty ``streaming`` assistant message (ids known, not saved).
    The new message follows the active branch's leaf; the prompt is the path to it.

    ``reply_store`` saves them; the model call may start in between (``reply_producer``), so
    the inserts are not in front of the first token. A ``client_message_id`` already used
    returns the first plan (``existing=True``): the caller makes no model call. Everything
    is refused before anything is stored or sent.
    """
    content = content_clean(content)
    client_message_id = _client_message_id_clean(client_message_id)
    temperature, max_tokens = _params_clean(temperature, max_tokens)
    conversation = conversation_get(user_id=user_id, conversation_id=conversation_id) if conversation_id else None
    # A repeat answers with the first reply before any model call starts. (Two requests racing
    # with the same id both get here; the unique constraint lets one store, and the loser's
    # model call is cancelled at once: see reply_producer.reply_begin.)
    existing = _existing_plan(user_id=user_id, conversation_id=conversation_id, client_message_id=client_message_id)
    if existing is not None:
        return existing
    model = _model_choose(model, conversation)
    if conversation is None:
        # Created by reply_store, in the transaction that stores the messages; untitled until
        # its first reply is over (a title is generated then); no history yet.
        conversation = Conversation(user_id=user_id, title="", title_source=Conversation.TitleSource.NONE)
        parent_id, conversation_is_new = None, True
    else:
        parent_id, conversation_is_new = branch_leaf(conversation=conversation), False
    return _plan_make(
        user_id=user_id,
        conversation=conversation,
        conversation_is_new=conversation_is_new,
        parent_id=parent_id,
        user_message=None,
        content=content,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        client_message_id=client_message_id,
        request_id=request_id,
        user_sibling_ids=None,  # it follows the leaf: it is alone at its place
        assistant_sibling_ids=[],
    )


def reply_regenerate_plan(
    *,
    user_id: uuid.UUID,
    message_id: str | uuid.UUID,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    client_message_id: str | None = None,
    request_id: str | None = None,
) -> ReplyPlan:
    """A new reply to the user message that assistant message ``message_id`` answers, beside
    it (the old reply stays). The prompt is the path to that user message. Like
    ``reply_plan``: nothing written, ``existing=True`` for a repeated ``client_message_id``."""
    client_message_id = _client_message_id_clean(client_message_id)
    temperature, max_tokens = _params_clean(temperature, max_tokens)
    target = message_get(user_id=user_id, message_id=message_id)
    if target.role != Message.Role.ASSISTANT or target.parent_id is None:
        raise ValidationFailed(
            "message_id: Only a reply (an assistant message) can be regenerated; edit a user message instead.",
            details={"message_id": ["Not an assistant message."]},
        )
    existing = _existing_plan(
        user_id=user_id, conversation_id=target.conversation_id, client_message_id=client_message_id
    )
    if existing is not None:
        return existing
    user_message = Message.objects.select_related("conversation").get(id=target.parent_id)
    conversation = user_message.conversation
    model = _model_choose(model, conversation)
    message_siblings_attach(messages=[user_message, target])
    return _plan_make(
        user_id=user_id,
        conversation=conversation,
        conversation_is_new=False,
        parent_id=user_message.parent_id,
        user_message=user_message,
        content=user_message.content,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        client_message_id=client_message_id,
        request_id=request_id,
        user_sibling_ids=None,
        assistant_sibling_ids=target.sibling_ids,
    )


def reply_edit_plan(
    *,
    user_id: uuid.UUID,
    message_id: str | uuid.UUID,
    content: str,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    client_message_id: str | None = None,
    request_id: str | None = None,
) -> ReplyPlan:
    """A new user message with ``content`` beside user message ``message_id`` (the same
    parent; the old one and its replies stay), and a reply to it. The prompt is the path to
    that parent, then the new content. Like ``reply_plan`` otherwise."""
    content = content_clean(content)
    client_message_id = _client_message_id_clean(client_message_id)
    temperature, max_tokens = _params_clean(temperature, max_tokens)
    target = message_get(user_id=user_id, message_id=message_id)
    if target.role != Message.Role.USER:
        raise ValidationFailed(
            "message_id: Only a user message can be edited; regenerate a reply instead.",
            details={"message_id": ["Not a user message."]},
        )
    existing = _existing_plan(
        user_id=user_id, conversation_id=target.conversation_id, client_message_id=client_message_id
    )
    if existing is not None:
        return existing
    conversation = Conversation.objects.get(id=target.conversation_id)
    model = _model_choose(model, conversation)
    message_siblings_attach(messages=[target])
    return _plan_make(
        user_id=user_id,
        conversation=conversation,
        conversation_is_new=False,
        parent_id=target.parent_id,
        user_message=None,
        content=content,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        client_message_id=client_message_id,
        request_id=request_id,
        user_sibling_ids=target.sibling_ids,
        assistant_sibling_ids=[],
    )


def _plan_make(
    *,
    user_id: uuid.UUID,
    conversation: Conversation,
    conversation_is_new: bool,
    parent_id: uuid.UUID | None,
    user_message: Message | None,
    content: str,
    model: str,
    temperature: float | None,
    max_tokens: int | None,
    client_message_id: str | None,
    request_id: str | None,
    user_sibling_ids: list[uuid.UUID] | None,
    assistant_sibling_ids: list[uuid.UUID],
) -> ReplyPlan:
    """The part every reply shares once its place in the tree is known: the limits, the
    prompt (the path to ``parent_id``, then ``content``), the token reservation and the
    unsaved messages. ``user_message``: an existing one to answer (regenerate), else a new
    user message is made under ``parent_id``; ``*_sibling_ids``: the messages already at the
    new messages' places."""
    provider = provider_get()
    reserve = max_tokens or min(1024, settings.CHAT_MAX_OUTPUT_TOKENS)
    prompt = prompt_build(conversation=conversation, new_content=content, reserve=reserve, parent_id=parent_id)
    # The model is always told where to stop (CHAT_MAX_OUTPUT_TOKENS unless the client asked for
    # less, and never past the context window the prompt leaves), and that much is reserved from
    # the day's budget until the reply is stored; the message counts to the minute's rate.
    prompt_tokens = sum(estimate_tokens(m.content) for m in prompt)
    reservation = limits.reply_limits_take(
        user_id=user_id,
        output_tokens=max(
            1, min(max_tokens or settings.CHAT_MAX_OUTPUT_TOKENS, settings.CHAT_CONTEXT_TOKENS - prompt_tokens)
        ),
        prompt_tokens=prompt_tokens,
    )
    now = timezone.now()
    user_message_is_new = user_message is None
    if user_message is None:
        user_message = Message(
            conversation=conversation,
            user_id=user_id,
            role=Message.Role.USER,
            content=content,
            client_message_id=client_message_id,
            parent_id=parent_id,
            created_at=now,
        )
        user_message.sibling_ids = [*(user_sibling_ids or ()), user_message.id]
    assistant = Message(
        conversation=conversation,
        user_id=user_id,
        role=Message.Role.ASSISTANT,
        content="",
        status=Message.Status.STREAMING,
        model=provider.model_name(model),
        parent=user_message,
        # A regenerated reply carries the request's id (its user message has its own already).
        client_message_id=None if user_message_is_new else client_message_id,
        created_at=now + timedelta(microseconds=1),
        lease_expires_at=now + _lease(),  # renewed by the producing process (``leases``)
    )
    assistant.sibling_ids = [*assistant_sibling_ids, assistant.id]
    assistant.token_reservation = reservation  # settled by reply_finish_save
    request = CompletionRequest(
        model=model,
        messages=prompt,
        temperature=temperature,
        max_tokens=reservation.output_tokens,
        request_id=request_id,
        user_id=str(user_id),
    )
    return ReplyPlan(
        conversation,
        user_message,
        assistant,
        request,
        existing=False,
        conversation_is_new=conversation_is_new,
        user_message_is_new=user_message_is_new,
        title_wanted=(
            settings.CHAT_TITLES
            and conversation.title_source == Conversation.TitleSource.NONE
            and user_message.parent_id is None
        ),
    )


def reply_store(plan: ReplyPlan) -> ReplyPlan:
    """Save a new plan's messages (and its conversation, if new): one transaction, one INSERT
    of the new messages; the conversation's active branch now ends at the new reply. Returns
    ``plan``, or the first plan when the same ``client_message_id`` raced us into the
    conversation (then nothing is stored and its model call must be dropped: ``existing=True``)."""
    if plan.existing:
        return plan
    conversation = plan.conversation
    new_messages = [plan.user_message, plan.assistant_message] if plan.user_message_is_new else [plan.assistant_message]
    try:
        with transaction.atomic():
            if plan.conversation_is_new:
                conversation.active_leaf_id = plan.assistant_message.id  # inserted just after, same transaction
                conversation.save(force_insert=True)
            Message.objects.bulk_create(new_messages)
            if not plan.conversation_is_new:
                _touch(conversation, leaf=plan.assistant_message)
            if plan.user_message_is_new:
                events.message_created_after_commit(plan.user_message)
            events.reply_started_after_commit(plan.assistant_message)
    except IntegrityError:
        existing = _existing_plan(
            user_id=plan.user_message.user_id,
            conversation_id=str(conversation.id),
            client_message_id=(new_messages[0].client_message_id or ""),
        )
        if existing is None:
            raise
        return existing
    return plan


def reply_prepare(**params) -> ReplyPlan:
    """``reply_plan`` then ``reply_store``, for callers that start the model call afterwards."""
    return reply_store(reply_plan(**params))


def conversation_branch_select(
    *, user_id: uuid.UUID, conversation_id: str | uuid.UUID, leaf_message_id: str | uuid.UUID
) -> tuple[Conversation, uuid.UUID]:
    """Show the branch through ``leaf_message_id`` (a message of this conversation; one that
    is not a leaf selects the newest leaf below it). Returns the conversation and the leaf."""
    conversation = conversation_get(user_id=user_id, conversation_id=conversation_id)
    message = message_get(user_id=user_id, message_id=parse_uuid(leaf_message_id, field="leaf_message_id"))
    if message.conversation_id != conversation.id:
        raise ValidationFailed(
            "leaf_message_id: The message belongs to another conversation.",
            details={"leaf_message_id": ["Not a message of this conversation."]},
        )
    leaf_id = message_newest_leaf_below(message_id=message.id)
    Conversation.objects.filter(id=conversation.id).update(active_leaf=leaf_id)
    conversation.active_leaf_id = leaf_id
    return conversation, leaf_id


def reply_progress_save(*, message_id: uuid.UUID, content: str, seq: int) -> bool:
    """Store what has arrived so far (batched by the producer, never per token), renewing the
    reply's lease. Returns False when the reply is no longer ``streaming``: another process
    cancelled it (the cross-process cancel when there is no Redis) or its conversation was
    deleted."""
    now = timezone.now()
    return bool(
        Message.objects.filter(id=message_id, status=Message.Status.STREAMING).update(
            content=content, seq=seq, updated_at=now, lease_expires_at=now + _lease()
        )
    )


# --- leases: a reply whose process died is closed by any other ------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=settings.CHAT_REPLY_LEASE_SECONDS)


def reply_leases_renew(*, message_ids: list[uuid.UUID]) -> int:
    """Renew the leases of the replies this process produces (one UPDATE for all of them)."""
    if not message_ids:
        return 0
    return Message.objects.filter(id__in=message_ids, status=Message.Status.STREAMING).update(
        lease_expires_at=timezone.now() + _lease()
    )


SWEEP_BATCH = 100


def replies_lease_expired_close() -> list[Message]:
    """Close every reply whose lease ran out (its process died: killed, crashed) as ``failed``
    with what was stored, and tell the conversation's followers. One indexed query when there
    is nothing to close (the partial index over streaming rows)."""
    expired = list(
        Message.objects.filter(status=Message.Status.STREAMING, lease_expires_at__lt=timezone.now())
        .order_by("lease_expires_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    closed = [reply_lease_expired_close(message_id=message_id) for message_id in expired]
    return [message for message in closed if message is not None]


def reply_lease_expired_close(*, message_id: uuid.UUID) -> Message | None:
    """Close one reply if its lease has run out (a renewal that came first wins). Returns it,
    or None when it was renewed or finished meanwhile."""
    now = timezone.now()
    updated = Message.objects.filter(id=message_id, status=Message.Status.STREAMING, lease_expires_at__lt=now).update(
        status=Message.Status.FAILED, error_code=ReplyInterrupted.code, updated_at=now
    )
    message = Message.objects.filter(id=message_id).first() if updated else None
    if message is None:  # renewed or finished meanwhile (or its conversation deleted just now)
        return None
    logger.warning("reply_interrupted_closed", message_id=str(message_id), seq=message.seq)
    events.reply_finished_after_commit(message)
    return message


def reply_finish_save(
    *,
    message: Message,
    content: str,
    seq: int,
    status: str,
    usage: Usage | None,
    finish_reason: str = "",
    error_code: str = "",
) -> Message | None:
    """Store the reply's final state (complete, failed or cancelled) and its token usage.

    One UPDATE in the common case (the row is still ``streaming``); ``message`` is updated
    in memory rather than read back. If another process cancelled the reply meanwhile, the
    content is stored and ``cancelled`` kept. Returns None when the message is gone (its
    conversation was deleted meanwhile).
    """
    fields = {
        "content": content,
        "seq": seq,
        "status": status,
        "finish_reason": finish_reason[:32],
        "error_code": error_code[:32],
        "updated_at": timezone.now(),
    }
    if usage is not None:
        fields.update(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )
    # The model's tokens were spent whatever happened to the conversation meanwhile.
    reservation: limits.TokenReservation | None = getattr(message, "token_reservation", None)
    if reservation is not None:
        limits.token_reservation_settle(reservation, used_tokens=reply_tokens_used(reservation, content, usage))
    elif usage is not None:
        limits.token_usage_record(user_id=message.user_id, tokens=usage.total_tokens)
    if not Message.objects.filter(id=message.id, status=Message.Status.STREAMING).update(**fields):
        current = Message.objects.filter(id=message.id).values_list("status", flat=True).first()
        if current is None:
            return None
        fields["status"] = current if current == Message.Status.CANCELLED else status
        Message.objects.filter(id=message.id).update(**fields)
    for name, value in fields.items():
        setattr(message, name, value)
    events.reply_finished_after_commit(message)
    return message


# --- titles: generated after an untitled conversation's first reply ---------------------------------

TITLE_MAX_TOKENS = 24  # a handful of words; the request is small and bounded
TITLE_MAX_CHARS = 80


def conversation_title_request(*, plan: ReplyPlan, reply: str) -> CompletionRequest:
    """The bounded request that asks the model for a title of ``plan``'s conversation, from its
    first message and the reply it got (``prompts.title_prompt_build``)."""
    return CompletionRequest(
        model=plan.request.model if plan.request is not None else settings.CHAT_MODEL,
        messages=title_prompt_build(first_message=plan.user_message.content, reply=reply),
        temperature=0.2,
        max_tokens=TITLE_MAX_TOKENS,
        request_id=f"{plan.request.request_id}-title" if plan.request and plan.request.request_id else None,
        user_id=str(plan.user_message.user_id),
        purpose="title",
    )


def _title_from_model(text: str) -> str:
    """The model's answer as a title: its first line, without quotes, a ``Title:`` label or
    a final full stop, whitespace collapsed, at most ``TITLE_MAX_CHARS``."""
    line = next((line for line in text.strip().splitlines() if line.strip()), "")
    line = line.strip().strip("\"'*`").strip()
    if line.lower().startswith("title:"):
        line = line[len("title:") :].strip().strip("\"'*`").strip()
    line = " ".join(line.replace("\x00", "").split()).rstrip(".")
    return line[:TITLE_MAX_CHARS].strip()


def conversation_title_save(
    *, conversation_id: uuid.UUID, user_id: uuid.UUID, text: str, request: CompletionRequest, usage: Usage | None
) -> str | None:
    """Store a generated title, unless the conversation got one meanwhile (its owner's wins:
    one conditional UPDATE on ``title_source='none'``). The request's tokens count to the
    user's day like a reply's (the upstream's count, else an estimate). Returns the title, or
    None when nothing was stored."""
    if usage is not None:
        used = usage.total_tokens
    else:
        used = sum(estimate_tokens(m.content) for m in request.messages) + (len(text) + 3) // 4
    limits.token_usage_record(user_id=user_id, tokens=used)
    title = _title_from_model(text)
    if not title:
        logger.warning("conversation_title_empty", conversation_id=str(conversation_id))
        return None
    updated = Conversation.objects.filter(
        id=conversation_id, user_id=user_id, title_source=Conversation.TitleSource.NONE
    ).update(title=title, title_source=Conversation.TitleSource.AUTO, updated_at=timezone.now())
    if not updated:
        return None  # titled meanwhile by its owner (or deleted)
    logger.info("conversation_titled", conversation_id=str(conversation_id))
    return title


def reply_tokens_used(reservation: limits.TokenReservation, content: str, usage: Usage | None) -> int:
    """What a reply cost: the upstream's count, else (cut off before it reported one) an
    estimate of the prompt it was sent and of the text that arrived."""
    if usage is not None:
        return usage.total_tokens
    return reservation.prompt_tokens + ((len(content) + 3) // 4 if content else 0)


def reply_orphan_cancel(*, message_id: uuid.UUID) -> Message | None:
    """A reply marked streaming that no process is producing (its process died): close it."""
    updated = Message.objects.filter(id=message_id, status=Message.Status.STREAMING).update(
        status=Message.Status.CANCELLED, updated_at=timezone.now()
    )
    return Message.objects.get(id=message_id) if updated else None
