"""The chat admin: local staff accounts, read-mostly screens."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User as StaffUser

from shared_apps.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    staff = StaffUser.objects.create_superuser("ops", "ops@example.com", "s3cret-pass-word")
    client.force_login(staff)
    return client


def test_conversations_and_messages_are_listed_and_searchable(staff_client):
    owner = uuid.uuid4()
    conversation = Conversation.objects.create(user_id=owner, title="Holiday plans")
    message = Message.objects.create(
        conversation=conversation, user_id=owner, role="user", content="Where to go in May?"
    )
    listed = staff_client.get("/admin/chat/conversation/", {"q": "Holiday"})
    assert listed.status_code == 200 and b"Holiday plans" in listed.content
    by_owner = staff_client.get("/admin/chat/conversation/", {"q": str(owner)})
    assert b"Holiday plans" in by_owner.content
    detail = staff_client.get(f"/admin/chat/conversation/{conversation.id}/change/")
    assert detail.status_code == 200 and b"Where to go in May?" in detail.content
    messages = staff_client.get("/admin/chat/message/", {"status__exact": "complete"})
    assert messages.status_code == 200 and str(message.id).encode() in messages.content


def test_admin_cannot_edit_or_add_messages(staff_client):
    owner = uuid.uuid4()
    conversation = Conversation.objects.create(user_id=owner, title="t")
    message = Message.objects.create(conversation=conversation, user_id=owner, role="user", content="original")
    assert staff_client.get("/admin/chat/message/add/").status_code == 403
    staff_client.post(f"/admin/chat/message/{message.id}/change/", {"content": "tampered"})
    message.refresh_from_db()
    assert message.content == "original"


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/chat/conversation/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
