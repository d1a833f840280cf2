"""Shapes of conversations and messages on the wire (REST and websocket frames)."""

from __future__ import annotations

from typing import Any

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


def _iso(value) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def message_data(message: Message) -> dict[str, Any]:
    """The message shape of DESIGN 4, as plain JSON-ready data (hot path: no serializer)."""
    return {
        "id": str(message.id),
        "conversation_id": str(message.conversation_id),
        "user_id": str(message.user_id),
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "model": message.model,
        "created_at": _iso(message.created_at),
        "updated_at": _iso(message.updated_at),
    }


def usage_data(message: Message) -> dict[str, int]:
    return {
        "prompt_tokens": message.prompt_tokens or 0,
        "completion_tokens": message.completion_tokens or 0,
        "total_tokens": message.total_tokens or 0,
    }
