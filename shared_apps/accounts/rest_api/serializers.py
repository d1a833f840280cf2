"""Output shapes shared by the auth REST views."""

from __future__ import annotations

from ipware import get_client_ip
from rest_framework import serializers
from rest_framework.request import Request

from shared_apps.accounts.services import ClientInfo


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    email = serializers.EmailField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TokensSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    refresh_token = serializers.CharField()
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()
    token_type = serializers.CharField()


class AuthResultSerializer(serializers.Serializer):
    user = UserSerializer()
    tokens = TokensSerializer()


def client_info(request: Request) -> ClientInfo:
    ip, _routable = get_client_ip(request)
    return ClientInfo(ip_address=ip, user_agent=request.META.get("HTTP_USER_AGENT", "")[:256])
