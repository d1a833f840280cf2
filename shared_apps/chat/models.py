"""Conversations and messages of the chat service, in its own database.

Users live in the auth service; here a user is only the UUID of a verified token.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models import Q
from django.utils import timezone

# The text search configuration of the full-text indexes and of the search queries
# (shared_apps/chat/search.py): a query uses an index only with the same expression.
SEARCH_CONFIG = "english"


class Conversation(models.Model):
    class TitleSource(models.TextChoices):
        USER = "user"  # set by its owner (never overwritten by a generated one)
        AUTO = "auto"  # generated after the first reply
        NONE = "none"  # untitled

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user_id = models.UUIDField(help_text="Owner (a user of the auth service).")
    title = models.CharField(max_length=200, blank=True)
    title_source = models.CharField(max_length=8, choices=TitleSource.choices, default=TitleSource.NONE)
    active_leaf = models.ForeignKey(
        "Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The last message of the branch shown; null: the newest leaf.",
    )
    model = models.CharField(max_length=100, blank=True, help_text="Default model for replies; blank = CHAT_MODEL.")
    system_prompt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(default=timezone.now, help_text="Last message or reply.")

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        indexes = [
            models.Index(fields=["user_id", "-last_activity_at", "-id"], name="chat_conv_owner_activity_idx"),
            # Full-text search of titles (PostgreSQL only; SQLite skips it).
            GinIndex(SearchVector("title", config=SEARCH_CONFIG), name="chat_conv_title_fts_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(title_source__in=["user", "auto", "none"]), name="chat_conv_title_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title or str(self.id)


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"
        SYSTEM = "system"

    class Status(models.TextChoices):
        COMPLETE = "complete"
        STREAMING = "streaming"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    user_id = models.UUIDField()
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    model = models.CharField(max_length=100, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    client_message_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - NULLs are distinct in the unique constraint
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        help_text="The message this one follows (null for the first); siblings share it.",
    )
    seq = models.PositiveIntegerField(default=0, help_text="Deltas stored so far (assistant messages).")
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A streaming reply: its producing process renews this; once past, any chat process closes it.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="chat_msg_conv_created_idx"),
            models.Index(fields=["user_id", "created_at"], name="chat_msg_user_created_idx"),
            # The lease sweep: streaming rows only, so the index stays as small as the replies in flight.
            models.Index(
                fields=["lease_expires_at"], condition=Q(status="streaming"), name="chat_msg_streaming_lease_idx"
            ),
            # Full-text search of contents (PostgreSQL only; SQLite skips it).
            GinIndex(SearchVector("content", config=SEARCH_CONFIG), name="chat_msg_content_fts_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_message_id"],
                condition=Q(client_message_id__isnull=False),
                name="chat_msg_client_id_unique_per_conv",
            ),
            models.CheckConstraint(condition=Q(role__in=["user", "assistant", "system"]), name="chat_msg_role_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["complete", "streaming", "failed", "cancelled"]), name="chat_msg_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.id}"
