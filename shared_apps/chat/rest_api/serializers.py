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
    class Meta:
        model = Message
        fields = ["id", "conversation_id", "user_id", "role", "content", "status", "model", "created_at", "updated_at"]


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
