"""Reply leases in the service layer: a streaming reply carries a lease its producer renews;
a reply whose lease ran out (its process died) is closed as failed with what was stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from shared_apps.chat import events, services
from shared_apps.chat.models import Message
from shared_apps.chat.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def stored(message: Message) -> Message:
    return Message.objects.get(id=message.id)


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, str, str]]:
    calls: list[tuple[str, str, str]] = []
    monkeypatch.setattr(events, "publish", lambda conv, kind, msg: calls.append((kind, str(msg.id), msg.status)))
    return calls


def test_a_planned_reply_is_leased(user_id, settings):
    settings.CHAT_REPLY_LEASE_SECONDS = 30
    plan = services.reply_prepare(user_id=user_id, conversation_id=None, content="hi")
    lease = stored(plan.assistant_message).lease_expires_at
    assert timedelta(seconds=29) < lease - timezone.now() <= timedelta(seconds=30)


def test_a_progress_save_renews_the_lease(conversation, settings):
    settings.CHAT_REPLY_LEASE_SECONDS = 30
    reply = MessageFactory(conversation=conversation, streaming=True, lease_expires_at=ago(1))
    assert services.reply_progress_save(message_id=reply.id, content="ab", seq=2)
    assert stored(reply).lease_expires_at > timezone.now() + timedelta(seconds=29)


def test_renewal_moves_the_leases_of_streaming_replies_only(conversation, settings):
    settings.CHAT_REPLY_LEASE_SECONDS = 30
    running = MessageFactory(conversation=conversation, streaming=True, lease_expires_at=ago(-1))
    finished = MessageFactory(conversation=conversation, assistant=True, lease_expires_at=ago(5))
    services.reply_leases_renew(message_ids=[running.id, finished.id])
    assert stored(running).lease_expires_at > timezone.now() + timedelta(seconds=29)
    assert stored(finished).lease_expires_at < timezone.now()


def test_expired_leases_are_closed_failed_with_what_was_stored(
    conversation, published, django_capture_on_commit_callbacks
):
    # given: a reply whose lease ran out, with two deltas stored
    orphan = MessageFactory(conversation=conversation, streaming=True, content="Once up", seq=2)
    Message.objects.filter(id=orphan.id).update(lease_expires_at=ago(1))
    # and replies that must be left alone: leased, unleased (older rows), finished
    leased = MessageFactory(conversation=conversation, streaming=True, lease_expires_at=ago(-30))
    unleased = MessageFactory(conversation=conversation, streaming=True)
    finished = MessageFactory(conversation=conversation, assistant=True, lease_expires_at=ago(60))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        closed = services.replies_lease_expired_close()
    # then
    assert [m.id for m in closed] == [orphan.id]
    row = stored(orphan)
    assert (row.status, row.error_code, row.content, row.seq) == ("failed", "reply_interrupted", "Once up", 2)
    assert published == [("reply_finished", str(orphan.id), "failed")]
    assert [stored(m).status for m in (leased, unleased, finished)] == ["streaming", "streaming", "complete"]


def test_a_sweep_with_nothing_to_close_is_one_query(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert services.replies_lease_expired_close() == []


def test_a_lease_renewed_meanwhile_is_not_closed(conversation, published):
    # given: a reply found expired, whose producer renews it before the close
    reply = MessageFactory(conversation=conversation, streaming=True, lease_expires_at=ago(1))
    Message.objects.filter(id=reply.id).update(lease_expires_at=ago(-30))
    # when
    assert services.reply_lease_expired_close(message_id=reply.id) is None
    # then
    assert stored(reply).status == "streaming" and published == []
