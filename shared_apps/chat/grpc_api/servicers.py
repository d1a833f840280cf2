"""gRPC transport of the chat service (``chat.ChatService``), over the same service layer
as REST and the websocket. Errors are mapped once, by ``ErrorMappingInterceptor``."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any

import grpc
from django.conf import settings
from django_grpc_framework.services import Service

from protos import chat_pb2
from shared_apps.authn.grpc_auth import context_principal
from shared_apps.chat import async_bridge, follow, reply_producer, reply_reader, search, selectors, services
from shared_apps.chat.models import Conversation
from shared_apps.chat.payloads import MessageData, error_from_frame, message_data
from shared_apps.chat.services import ReplyPlan
from shared_apps.core.grpc_server.mappers import rfc3339_timestamp, timestamp
from shared_apps.core.middleware import current_request_id


def message_proto(data: MessageData) -> chat_pb2.Message:
    """The domain's message shape (``payloads.message_data``) as a protobuf message: one
    mapping for stored messages and for the messages inside reply and follow frames."""
    return chat_pb2.Message(
        id=data["id"],
        user_id=data["user_id"],
        content=data["content"],
        role=data["role"],
        created_at=rfc3339_timestamp(data["created_at"]),
        updated_at=rfc3339_timestamp(data["updated_at"]),
        conversation_id=data["conversation_id"],
        status=data["status"],
        model=data["model"],
        parent_id=data["parent_id"] or "",
        sibling_ids=data["sibling_ids"],
    )


def delta_proto(frame: dict[str, Any]) -> chat_pb2.ReplyDelta:
    return chat_pb2.ReplyDelta(
        message_id=frame["message_id"], seq=frame["seq"], content=frame["content"], from_seq=frame.get("from_seq", 0)
    )


def stored_stream_frames(messages: list[MessageData]) -> list[chat_pb2.StreamMessageResponse]:
    """``StreamMessages`` without ``follow``, as the seed streams it: one frame a stored message,
    then one with ``is_end`` set. The gRPC servicer sends these; the REST route renders them."""
    return [
        *(chat_pb2.StreamMessageResponse(message=message_proto(m), is_end=False) for m in messages),
        chat_pb2.StreamMessageResponse(is_end=True),
    ]


def conversation_proto(conversation: Conversation) -> chat_pb2.Conversation:
    return chat_pb2.Conversation(
        id=str(conversation.id),
        title=conversation.title,
        created_at=timestamp(conversation.created_at),
        updated_at=timestamp(conversation.updated_at),
    )


def _reply_params(request: chat_pb2.ChatWithAIRequest, context: grpc.ServicerContext) -> dict[str, Any]:
    # proto3 scalars have no presence: 0 / "" mean "not set".
    return dict(
        user_id=context_principal(context).user_id,
        conversation_id=request.conversation_id or None,
        content=request.message,
        **_reply_options(request),
    )


def _reply_options(request: Any) -> dict[str, Any]:
    """The options every reply takes (proto3: 0 / "" mean "not set")."""
    return dict(
        model=request.model or None,
        temperature=request.temperature or None,
        max_tokens=request.max_tokens or None,
        client_message_id=request.client_message_id or None,
        request_id=current_request_id(),  # bound by CorrelationIdInterceptor (given or made)
    )


_stream_slots: threading.BoundedSemaphore | None = None
_stream_slots_lock = threading.Lock()


@contextmanager
def stream_slot(context: grpc.ServicerContext):
    """Hold one of GRPC_MAX_STREAMS slots for a stream's length, or refuse it at once:
    streams must never take the threads that unary calls and health checks need."""
    global _stream_slots
    if _stream_slots is None:
        with _stream_slots_lock:
            if _stream_slots is None:
                _stream_slots = threading.BoundedSemaphore(settings.GRPC_MAX_STREAMS)
    slots = _stream_slots
    if not slots.acquire(blocking=False):
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "Too many streams on this server; retry shortly.")
    try:
        yield
    finally:
        slots.release()


class ChatService(Service):
    def SendMessage(self, request, context):  # noqa: N802 - gRPC method names
        message = services.message_store(
            user_id=context_principal(context).user_id,
            conversation_id=request.conversation_id or None,
            content=request.message,
        )
        return chat_pb2.ChatResponse(
            message=message_proto(message_data(message)),
            conversation_id=str(message.conversation_id),
            is_ai_response=False,
        )

    def GetHistory(self, request, context):  # noqa: N802
        conversation, page = selectors.message_list(
            user_id=context_principal(context).user_id,
            conversation_id=request.conversation_id,
            limit=request.limit,
            offset=request.offset,
        )
        return chat_pb2.GetHistoryResponse(
            messages=[message_proto(message_data(m)) for m in page.items],
            total=page.total,
            conversation_id=str(conversation.id),
        )

    def ListConversations(self, request, context):  # noqa: N802
        page = selectors.conversation_list(
            user_id=context_principal(context).user_id, limit=request.limit, offset=request.offset
        )
        return chat_pb2.ListConversationsResponse(
            conversations=[conversation_proto(c) for c in page.items], total=page.total
        )

    def CreateConversation(self, request, context):  # noqa: N802
        conversation = services.conversation_create(user_id=context_principal(context).user_id, title=request.title)
        return conversation_proto(conversation)

    def ChatWithAI(self, request, context):  # noqa: N802
        _plan, reply = reply_reader.reply_complete(**_reply_params(request, context))
        return chat_pb2.ChatWithAIResponse(
            ai_message=reply.content,
            conversation_id=str(reply.conversation_id),
            model_used=reply.model,
            tokens_used=reply.total_tokens or 0,
            created_at=timestamp(reply.created_at),
        )

    def StreamChatWithAI(self, request, context):  # noqa: N802
        with stream_slot(context):
            yield from self._stream_reply(context, reply_producer.reply_begin, _reply_params(request, context))

    def RegenerateReply(self, request, context):  # noqa: N802
        params = dict(user_id=context_principal(context).user_id, message_id=request.message_id)
        with stream_slot(context):
            yield from self._stream_reply(
                context, reply_producer.reply_regenerate_begin, {**params, **_reply_options(request)}
            )

    def EditMessage(self, request, context):  # noqa: N802
        params = dict(
            user_id=context_principal(context).user_id, message_id=request.message_id, content=request.content
        )
        with stream_slot(context):
            yield from self._stream_reply(
                context, reply_producer.reply_edit_begin, {**params, **_reply_options(request)}
            )

    def SelectBranch(self, request, context):  # noqa: N802
        conversation, leaf_id = services.conversation_branch_select(
            user_id=context_principal(context).user_id,
            conversation_id=request.conversation_id,
            leaf_message_id=request.leaf_message_id,
        )
        return chat_pb2.SelectBranchResponse(conversation_id=str(conversation.id), leaf_message_id=str(leaf_id))

    def _stream_reply(self, context, begin, params: dict[str, Any]):
        """Begin a reply (``reply_producer.reply_begin`` or another ``reply_*_begin``) and stream
        it: ack, start, the deltas, done (an error frame is raised as its domain error)."""
        principal = context_principal(context)
        plan: ReplyPlan = async_bridge.submit(begin(**params)).result()
        yield chat_pb2.ChatStreamEvent(
            ack=chat_pb2.UserMessageAck(
                user_message=message_proto(message_data(plan.user_message)), conversation_id=str(plan.conversation.id)
            )
        )
        yield chat_pb2.ChatStreamEvent(start=chat_pb2.ReplyStart(message_id=str(plan.assistant_message.id)))
        frames = async_bridge.iterate_sync(
            lambda: reply_reader.reply_frames(
                user_id=principal.user_id, message_id=str(plan.assistant_message.id), coalesce=True
            ),
            is_active=context.is_active,
        )
        for frame in frames:
            if frame["type"] == "delta":
                yield chat_pb2.ChatStreamEvent(delta=delta_proto(frame))
            elif frame["type"] == "done":
                usage = frame["usage"]
                yield chat_pb2.ChatStreamEvent(
                    done=chat_pb2.ReplyDone(message=message_proto(frame["message"]), usage=chat_pb2.Usage(**usage))
                )
            else:
                raise error_from_frame(frame)

    def CancelReply(self, request, context):  # noqa: N802
        # The websocket ``cancel`` frame's service function, run on the reply loop.
        async_bridge.submit(
            reply_producer.reply_cancel(user_id=context_principal(context).user_id, message_id=request.message_id)
        ).result()
        return chat_pb2.CancelReplyResponse()

    def ListModels(self, request, context):  # noqa: N802
        choices = selectors.model_choices()
        return chat_pb2.ListModelsResponse(
            models=[chat_pb2.ChatModel(id=model_id) for model_id in choices.ids], default=choices.default
        )

    def SearchConversations(self, request, context):  # noqa: N802
        page = search.conversation_search(
            user_id=context_principal(context).user_id, q=request.q, limit=request.limit, offset=request.offset
        )
        return chat_pb2.SearchConversationsResponse(
            results=[
                chat_pb2.SearchResult(
                    conversation=conversation_proto(hit.conversation),
                    message_id=hit.message_id or "",
                    snippet=hit.snippet,
                )
                for hit in page.items
            ],
            total=page.total,
        )

    def StreamMessages(self, request, context):  # noqa: N802
        if request.follow:
            return self._follow_messages(request, context)
        # The seed's behaviour: the stored messages, a frame with is_end, the end. Read here, inside
        # the call's request bracket (its database connection is closed after it), not in the stream.
        messages = follow.conversation_stored(
            user_id=context_principal(context).user_id, conversation_id=request.conversation_id
        )
        return iter(stored_stream_frames(messages))

    def _follow_messages(self, request, context):
        with stream_slot(context):
            yield from self._stream_messages(request, context)

    def _stream_messages(self, request, context):
        principal = context_principal(context)
        events = async_bridge.iterate_sync(
            lambda: follow.conversation_follow(user_id=principal.user_id, conversation_id=request.conversation_id),
            is_active=context.is_active,
        )
        for event in events:
            if event["kind"] == "message":
                yield chat_pb2.StreamMessageResponse(message=message_proto(event["message"]), is_end=False)
            else:
                yield chat_pb2.StreamMessageResponse(delta=delta_proto(event))
