"""Output shapes shared by the auth REST views."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request

from shared_apps.accounts.services import ClientInfo
from shared_apps.core.client_ip import request_client_ip


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    email = serializers.EmailField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    email_verified = serializers.BooleanField()


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
    # Forwarding headers count only from TRUSTED_PROXIES: the sign-in throttles key on this address.
    return ClientInfo(ip_address=request_client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:256])
