"""REST views of two-factor sign-in and API keys (under ``/v1/auth``). Each parses, calls one
service function and renders; errors are mapped once in ``shared_apps.core.rest_errors``."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.accounts import api_keys, mfa
from shared_apps.accounts.rest_api.serializers import AuthResultSerializer, client_info

MFA_REQUIRED_SERIALIZER = inline_serializer(
    "MfaRequired", {"mfa_required": serializers.BooleanField(), "mfa_token": serializers.CharField()}
)


def signin_data(result) -> dict:
    """Sign-in's body: the user and tokens, or (two-factor) ``{mfa_required: true, mfa_token}``."""
    if isinstance(result, mfa.MfaRequired):
        return {"mfa_required": True, "mfa_token": result.mfa_token}
    return AuthResultSerializer(result).data


class SignInMfaApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="SignInMfaInput")
    class InputSerializer(serializers.Serializer):
        mfa_token = serializers.CharField(max_length=256)
        code = serializers.CharField(max_length=64)

    @extend_schema(request=InputSerializer, responses={200: AuthResultSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = mfa.user_signin_mfa(**data.validated_data, client=client_info(request))
        return Response(AuthResultSerializer(result).data)


class TotpSetupApi(APIView):
    @extend_schema_serializer(component_name="TotpSetupOutput")
    class OutputSerializer(serializers.Serializer):
        secret = serializers.CharField()
        otpauth_uri = serializers.CharField()

    @extend_schema(request=None, responses={200: OutputSerializer})
    def post(self, request: Request) -> Response:
        setup = mfa.totp_setup(user_id=request.user.user_id)
        return Response(self.OutputSerializer(setup).data)


class TotpConfirmApi(APIView):
    @extend_schema_serializer(component_name="TotpConfirmInput")
    class InputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=64)

    @extend_schema(
        request=InputSerializer,
        responses={200: inline_serializer("TotpConfirmOutput", {"recovery_codes": serializers.ListField()})},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa.totp_confirm(
            user_id=request.user.user_id, code=data.validated_data["code"], client_ip=client_info(request).ip_address
        )
        return Response({"recovery_codes": codes})


class TotpApi(APIView):
    @extend_schema_serializer(component_name="TotpDisableInput")
    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={204: None})
    def delete(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mfa.totp_disable(
            user_id=request.user.user_id,
            password=data.validated_data["password"],
            client_ip=client_info(request).ip_address,
        )
        return Response(status=204)


class ApiKeySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    prefix = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class ApiKeyListApi(APIView):
    @extend_schema_serializer(component_name="ApiKeyCreateInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)

    @extend_schema_serializer(component_name="ApiKeyCreated")
    class CreatedSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="api_key.id")
        name = serializers.CharField(source="api_key.name")
        key = serializers.CharField()
        prefix = serializers.CharField(source="api_key.prefix")
        created_at = serializers.DateTimeField(source="api_key.created_at")

    @extend_schema(responses={200: inline_serializer("ApiKeyList", {"api_keys": ApiKeySerializer(many=True)})})
    def get(self, request: Request) -> Response:
        keys = api_keys.api_key_list(user_id=request.user.user_id)
        return Response({"api_keys": ApiKeySerializer(keys, many=True).data})

    @extend_schema(request=InputSerializer, responses={201: CreatedSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = api_keys.api_key_create(user_id=request.user.user_id, name=data.validated_data["name"])
        return Response(self.CreatedSerializer(created).data, status=201)


class ApiKeyDetailApi(APIView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, api_key_id: str) -> Response:
        api_keys.api_key_delete(user_id=request.user.user_id, api_key_id=api_key_id)
        return Response(status=204)


urlpatterns = [
    path("auth/signin/mfa", SignInMfaApi.as_view(), name="signin-mfa"),
    path("auth/mfa/totp/setup", TotpSetupApi.as_view(), name="totp-setup"),
    path("auth/mfa/totp/confirm", TotpConfirmApi.as_view(), name="totp-confirm"),
    path("auth/mfa/totp", TotpApi.as_view(), name="totp"),
    path("auth/api-keys", ApiKeyListApi.as_view(), name="api-keys"),
    path("auth/api-keys/<str:api_key_id>", ApiKeyDetailApi.as_view(), name="api-key"),
]
