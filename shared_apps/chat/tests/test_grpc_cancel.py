"""gRPC ``CancelReply``: the websocket ``cancel`` frame's service function over gRPC."""

from __future__ import annotations

import uuid

import grpc
import pytest

from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.models import Message
from testkit.fake_openai import reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chat(grpc_channel):
    return chat_pb2_grpc.ChatServiceStub(grpc_channel)


def test_cancel_reply_ends_the_stream_and_stores_what_arrived(chat, alice, upstream):
    # given: a reply streaming slowly (20 deltas, 0.2 s apart: ~4 s if left alone)
    upstream.enqueue(reply([f"w{i} " for i in range(20)], delta_interval=0.2))
    stream = chat.StreamChatWithAI(
        chat_pb2.ChatWithAIRequest(message="long story"), metadata=alice.metadata, timeout=15
    )
    events = [next(stream), next(stream), next(stream)]  # ack, start, the first delta
    assert [e.WhichOneof("event") for e in events] == ["ack", "start", "delta"]
    message_id = events[1].start.message_id
    # when: another call cancels it
    answer = chat.CancelReply(chat_pb2.CancelReplyRequest(message_id=message_id), metadata=alice.metadata, timeout=5)
    assert isinstance(answer, chat_pb2.CancelReplyResponse)
    # then: the stream ends with the stored message, cancelled, holding the deltas that arrived
    rest = list(stream)
    done = rest[-1]
    assert done.WhichOneof("event") == "done" and done.done.message.status == "cancelled"
    streamed = "".join(e.delta.content for e in [*events, *rest] if e.WhichOneof("event") == "delta")
    assert done.done.message.content == streamed and 0 < len(streamed) < len("".join(f"w{i} " for i in range(20)))
    stored = Message.objects.get(id=message_id)
    assert stored.status == "cancelled" and stored.content == streamed
    # and cancelling a reply that is over changes nothing
    chat.CancelReply(chat_pb2.CancelReplyRequest(message_id=message_id), metadata=alice.metadata, timeout=5)
    assert Message.objects.get(id=message_id).status == "cancelled"


def test_cancel_reply_of_another_user_is_not_found(chat, alice, bob, upstream):
    upstream.enqueue(reply([f"w{i} " for i in range(20)], delta_interval=0.2))
    stream = chat.StreamChatWithAI(chat_pb2.ChatWithAIRequest(message="mine"), metadata=alice.metadata, timeout=15)
    _ack, start = next(stream), next(stream)
    message_id = start.start.message_id
    try:
        for candidate in (message_id, str(uuid.uuid4())):
            with pytest.raises(grpc.RpcError) as exc:
                chat.CancelReply(chat_pb2.CancelReplyRequest(message_id=candidate), metadata=bob.metadata, timeout=5)
            assert exc.value.code() == grpc.StatusCode.NOT_FOUND
        # the reply was not touched: it completes
        done = list(stream)[-1]
        assert done.done.message.status == "complete"
    finally:
        stream.cancel()


def test_cancel_reply_with_a_malformed_id_is_invalid_argument(chat, alice):
    for bad in ("not-a-uuid", ""):
        with pytest.raises(grpc.RpcError) as exc:
            chat.CancelReply(chat_pb2.CancelReplyRequest(message_id=bad), metadata=alice.metadata, timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "message_id" in exc.value.details()
