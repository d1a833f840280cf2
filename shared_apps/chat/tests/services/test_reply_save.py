"""The stored side of a reply after the model call: progress saves, the final save (and its
token usage), and closing a reply whose producer died."""

from __future__ import annotations

import uuid

import pytest

from shared_apps.chat import limits, services
from shared_apps.chat.models import Message
from shared_apps.chat.providers.base import Usage
from shared_apps.chat.tests.factories import MessageFactory
from shared_apps.core.errors import RateLimited

pytestmark = pytest.mark.django_db


@pytest.fixture
def reply(conversation) -> Message:
    """An empty reply being produced."""
    return MessageFactory(conversation=conversation, streaming=True)


def stored(message: Message) -> Message:
    return Message.objects.get(id=message.id)


# --- reply_finish_save ------------------------------------------------------------------------------


def test_a_finished_reply_is_stored_whole_in_one_update(reply, django_assert_num_queries):
    # when
    with django_assert_num_queries(1) as captured:
        saved = services.reply_finish_save(
            message=reply,
            content="Paris is the capital.",
            seq=3,
            status=Message.Status.COMPLETE,
            usage=Usage(prompt_tokens=11, completion_tokens=3, total_tokens=14),
            finish_reason="stop",
        )
    # then one UPDATE, no read back
    assert captured.captured_queries[0]["sql"].upper().startswith("UPDATE")
    # and the row and the returned message say the same
    row = stored(reply)
    for message in (saved, row):
        assert (message.content, message.seq, message.status) == ("Paris is the capital.", 3, "complete")
        assert (message.prompt_tokens, message.completion_tokens, message.total_tokens) == (11, 3, 14)
        assert (message.finish_reason, message.error_code) == ("stop", "")
    assert saved is reply


def test_a_failed_reply_keeps_what_arrived_and_its_error_code(reply):
    # when
    services.reply_finish_save(
        message=reply, content="Par", seq=1, status=Message.Status.FAILED, usage=None, error_code="upstream_timeout"
    )
    # then
    row = stored(reply)
    assert (row.content, row.seq, row.status, row.error_code) == ("Par", 1, "failed", "upstream_timeout")
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (None, None, None)


def test_an_overlong_finish_reason_or_error_code_is_cut_to_fit(reply):
    # when (an upstream may send any finish reason; the columns hold 32 characters)
    services.reply_finish_save(
        message=reply, content="x", seq=1, status="failed", usage=None, finish_reason="r" * 50, error_code="e" * 50
    )
    # then
    row = stored(reply)
    assert (row.finish_reason, row.error_code) == ("r" * 32, "e" * 32)


def test_the_final_save_records_the_token_usage_against_the_daily_budget(reply, user_id, settings, clock):
    # given a daily budget of 14 tokens, not used
    settings.CHAT_RATE_TOKENS_PER_DAY = 14
    limits.token_budget_check(user_id=user_id)
    # when
    services.reply_finish_save(message=reply, content="hi", seq=1, status="complete", usage=Usage(11, 3, 14))
    # then the budget is used up
    with pytest.raises(RateLimited, match="The daily budget of 14 model tokens is used up."):
        limits.token_budget_check(user_id=user_id)


def test_a_final_save_without_usage_records_none(reply, user_id, settings, clock):
    # given
    settings.CHAT_RATE_TOKENS_PER_DAY = 1
    # when
    services.reply_finish_save(message=reply, content="hi", seq=1, status="cancelled", usage=None)
    # then
    limits.token_budget_check(user_id=user_id)


def test_a_reply_cancelled_by_another_process_stays_cancelled_but_gets_its_content(reply):
    # given another process (no Redis) cancelled the reply in the database
    cancelled = services.reply_orphan_cancel(message_id=reply.id)
    assert cancelled is not None
    # when this process's producer stores its end as complete
    saved = services.reply_finish_save(
        message=reply, content="Paris is", seq=2, status="complete", usage=Usage(11, 2, 13), finish_reason="stop"
    )
    # then what arrived is stored, and the reply stays cancelled
    row = stored(reply)
    assert (row.status, row.content, row.seq, row.total_tokens) == ("cancelled", "Paris is", 2, 13)
    assert saved.status == "cancelled" and saved.content == "Paris is"


def test_a_reply_whose_conversation_was_deleted_is_not_stored(reply, user_id, conversation):
    # given the user deleted the conversation while the reply was produced
    services.conversation_delete(user_id=user_id, conversation_id=conversation.id)
    # when
    saved = services.reply_finish_save(message=reply, content="late", seq=1, status="complete", usage=None)
    # then
    assert saved is None
    assert not Message.objects.filter(id=reply.id).exists()


def test_the_tokens_of_a_reply_whose_conversation_was_deleted_still_count(
    reply, user_id, conversation, settings, clock
):
    # given a daily budget of 14 tokens and a conversation deleted mid-reply
    settings.CHAT_RATE_TOKENS_PER_DAY = 14
    services.conversation_delete(user_id=user_id, conversation_id=conversation.id)
    # when the model's answer, which cost 14 tokens, ends
    services.reply_finish_save(message=reply, content="late", seq=1, status="complete", usage=Usage(11, 3, 14))
    # then the tokens were spent all the same: the budget is used up
    with pytest.raises(RateLimited):
        limits.token_budget_check(user_id=user_id)


# --- reply_progress_save ------------------------------------------------------------------------------


def test_progress_of_a_streaming_reply_is_stored(reply):
    # when
    kept = services.reply_progress_save(message_id=reply.id, content="Paris", seq=1)
    # then
    assert kept is True
    row = stored(reply)
    assert (row.content, row.seq, row.status) == ("Paris", 1, "streaming")


def test_progress_is_refused_once_the_reply_was_cancelled_elsewhere(reply):
    # given
    services.reply_progress_save(message_id=reply.id, content="Paris", seq=1)
    services.reply_orphan_cancel(message_id=reply.id)
    # when
    kept = services.reply_progress_save(message_id=reply.id, content="Paris is the", seq=3)
    # then the producer learns it must stop, and the row is not overwritten
    assert kept is False
    row = stored(reply)
    assert (row.content, row.seq, row.status) == ("Paris", 1, "cancelled")


def test_progress_is_refused_once_the_reply_is_finished(reply):
    # given
    services.reply_finish_save(message=reply, content="Paris.", seq=2, status="complete", usage=None)
    # when
    kept = services.reply_progress_save(message_id=reply.id, content="Par", seq=1)
    # then
    assert kept is False
    assert stored(reply).content == "Paris."


def test_progress_is_refused_once_the_conversation_is_deleted(reply, user_id, conversation):
    # given
    services.conversation_delete(user_id=user_id, conversation_id=conversation.id)
    # when / then
    assert services.reply_progress_save(message_id=reply.id, content="Par", seq=1) is False


# --- reply_orphan_cancel ---------------------------------------------------------------------------


def test_an_orphaned_reply_is_closed_as_cancelled_with_what_was_stored(reply):
    # given a reply whose producer stored some progress, then died
    services.reply_progress_save(message_id=reply.id, content="Paris is", seq=2)
    # when
    closed = services.reply_orphan_cancel(message_id=reply.id)
    # then
    assert closed is not None and closed.id == reply.id
    assert (closed.status, closed.content, closed.seq) == ("cancelled", "Paris is", 2)
    assert stored(reply).status == "cancelled"


@pytest.mark.parametrize("status", ["complete", "failed", "cancelled"])
def test_a_reply_that_is_not_streaming_is_left_alone(conversation, status):
    # given
    finished = MessageFactory(conversation=conversation, assistant=True, status=status, content="Paris.")
    # when
    closed = services.reply_orphan_cancel(message_id=finished.id)
    # then
    assert closed is None
    assert (stored(finished).status, stored(finished).content) == (status, "Paris.")


def test_an_unknown_reply_is_left_alone(db):
    assert services.reply_orphan_cancel(message_id=uuid.uuid4()) is None
