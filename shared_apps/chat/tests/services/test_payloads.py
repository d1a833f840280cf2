"""The shapes every transport sends: a message, the done and error frames, and the domain
error an error frame stands for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared_apps.chat import selectors
from shared_apps.chat.payloads import (
    delta_frame,
    done_frame,
    error_frame,
    error_from_frame,
    is_final,
    joined_delta_frame,
    message_data,
)
from shared_apps.chat.tests.factories import MessageFactory
from shared_apps.core.errors import (
    ApplicationError,
    NotFound,
    ServiceUnavailable,
    UpstreamError,
    UpstreamTimeout,
    ValidationFailed,
)

pytestmark = pytest.mark.django_db


def test_a_message_is_shown_with_its_ids_as_text_and_times_in_utc_with_z(conversation):
    # given
    message = MessageFactory(
        conversation=conversation,
        assistant=True,
        content="Paris.",
        created_at=datetime(2030, 1, 2, 3, 4, 5, 678900, tzinfo=UTC),
    )
    selectors.message_siblings_attach(messages=[message])
    # when
    data = message_data(message)
    # then
    assert data == {
        "id": str(message.id),
        "conversation_id": str(conversation.id),
        "user_id": str(conversation.user_id),
        "role": "assistant",
        "content": "Paris.",
        "status": "complete",
        "model": "local-echo",
        "created_at": "2030-01-02T03:04:05.678900Z",
        "updated_at": message.updated_at.isoformat().replace("+00:00", "Z"),
        "parent_id": str(message.parent_id),
        "sibling_ids": [str(message.id)],
    }
    assert data["updated_at"].endswith("Z")


def test_a_message_not_yet_saved_has_no_update_time(conversation):
    assert message_data(MessageFactory.build(conversation=conversation))["updated_at"] is None


def test_the_done_frame_carries_the_message_and_its_usage(conversation):
    # given
    message = MessageFactory(
        conversation=conversation, assistant=True, prompt_tokens=11, completion_tokens=3, total_tokens=14
    )
    # when
    frame = done_frame(message)
    # then
    assert frame == {
        "type": "done",
        "message": message_data(message),
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }
    assert is_final(frame)


def test_the_done_frame_of_a_reply_without_usage_shows_zeros(conversation):
    message = MessageFactory(conversation=conversation, assistant=True, status="cancelled")
    assert done_frame(message)["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_delta_frames_count_their_seq_and_a_joined_one_says_where_it_starts():
    message_id = str(uuid.uuid4())
    assert delta_frame(message_id, 3, " is") == {"type": "delta", "message_id": message_id, "seq": 3, "content": " is"}
    assert joined_delta_frame(message_id, 3, 3, " is") == delta_frame(message_id, 3, " is")
    assert joined_delta_frame(message_id, 2, 4, "Paris is the") == {
        "type": "delta",
        "message_id": message_id,
        "seq": 4,
        "content": "Paris is the",
        "from_seq": 2,
    }
    assert not is_final(delta_frame(message_id, 1, "x"))


@pytest.mark.parametrize(
    "error",
    [
        NotFound("The conversation was deleted."),
        UpstreamError("The model API answered with HTTP 500."),
        UpstreamTimeout("The model API timed out."),
        ServiceUnavailable("The reply could not be stored; the database is unavailable."),
    ],
    ids=lambda error: error.code,
)
def test_an_error_frame_turns_back_into_the_same_domain_error(error: ApplicationError):
    # given
    message_id = uuid.uuid4()
    frame = error_frame(message_id, error)
    assert frame == {"type": "error", "message_id": str(message_id), "code": error.code, "message": error.message}
    assert is_final(frame)
    # when (a sync transport raises it: REST answers its HTTP status, gRPC its status code)
    raised = error_from_frame(frame)
    # then
    assert type(raised) is type(error)
    assert (raised.code, raised.message, raised.http_status) == (error.code, error.message, error.http_status)


def test_an_error_frame_of_an_unknown_code_is_an_upstream_error_with_its_message():
    frame = error_frame(uuid.uuid4(), ValidationFailed("Something odd."))
    raised = error_from_frame(frame)
    assert type(raised) is UpstreamError and raised.message == "Something odd."


def test_an_error_frame_without_code_or_message_is_a_generic_upstream_error():
    raised = error_from_frame({"type": "error"})
    assert type(raised) is UpstreamError and raised.message == "The reply failed."
