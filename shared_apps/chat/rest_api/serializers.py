"""DRF serializers of the chat REST API (input validation and the OpenAPI schema). The shapes
shared with other transports are built in ``shared_apps.chat.payloads``."""

from __future__ import annotations

from rest_framework import serializers

from shared_apps.chat.models import Conversation, Message


class ConversationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["id", "title", "created_at", "updated_at"]


class MessageSerializer(serializers.ModelSerializer):
    parent_id = serializers.UUIDField(allow_null=True, help_text="The message this one follows; null for the first.")
    sibling_ids = serializers.ListField(
        child=serializers.UUIDField(),
        help_text="Every message at this place (same parent), itself included, oldest first.",
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "user_id",
            "role",
            "content",
            "status",
            "model",
            "created_at",
            "updated_at",
            "parent_id",
            "sibling_ids",
        ]


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
