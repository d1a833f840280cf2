"""REST transport of the auth service. Each view parses, calls one service
function and renders; errors are mapped once in ``shared_apps.core.rest_errors``."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.accounts import selectors, services
from shared_apps.accounts.rest_api.mfa_api_keys import MFA_REQUIRED_SERIALIZER, signin_data
from shared_apps.accounts.rest_api.serializers import (
    AuthResultSerializer,
    TokensSerializer,
    UserSerializer,
    client_info,
)

# Nested serializers share class names (InputSerializer, OutputSerializer); each gets its own
# OpenAPI component name, or drf-spectacular would merge them into one wrong "InputRequest".


class SignUpApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="SignUpInput")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=150, allow_blank=True, required=False, default="")
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={201: AuthResultSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.user_create(**data.validated_data, client=client_info(request))
        return Response(AuthResultSerializer(result).data, status=201)


class SignInApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="SignInInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: PolymorphicProxySerializer("SignInOutput", [AuthResultSerializer, MFA_REQUIRED_SERIALIZER], None)
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.user_signin(**data.validated_data, client=client_info(request))
        return Response(signin_data(result))  # two-factor: {mfa_required, mfa_token}, no tokens


# The seed's ``Empty`` message, as its REST gateway renders it: ``{}``.
EMPTY_SERIALIZER = inline_serializer("Empty", {})


class SignOutApi(APIView):
    """Ends the session of the bearer token, or of ``access_token`` in the body."""

    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        access_token = serializers.CharField(max_length=4096, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={200: EMPTY_SERIALIZER})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.session_signout(caller=request.user, access_token=data.validated_data.get("access_token") or None)
        return Response({})


class RefreshApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="RefreshInput")
    class InputSerializer(serializers.Serializer):
        # Missing or blank is not a malformed request but a missing credential: 401, as the seed.
        refresh_token = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="")

    @extend_schema(
        request=InputSerializer,
        responses={200: inline_serializer("Refreshed", {"tokens": TokensSerializer()})},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = services.session_refresh(refresh_token=data.validated_data["refresh_token"])
        return Response({"tokens": TokensSerializer(tokens).data})


class RevokeApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="RevokeInput")
    class InputSerializer(serializers.Serializer):
        # Missing or blank is a missing credential: 401, as the seed.
        access_token = serializers.CharField(max_length=4096, required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses={200: EMPTY_SERIALIZER}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.session_revoke(access_token=data.validated_data["access_token"])
        return Response({})


class ValidateApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="ValidateInput")
    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=8192, allow_blank=True)

    @extend_schema_serializer(component_name="ValidateOutput")
    class OutputSerializer(serializers.Serializer):
        valid = serializers.BooleanField()
        user_id = serializers.CharField()
        error_message = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.token_validate(token=data.validated_data["token"])
        return Response(self.OutputSerializer(result).data)


class UserListApi(APIView):
    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer):
        # An explicit page=0 is a mistake here (only proto3's unset 0 means "the default").
        page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=selectors.MAX_PAGE)
        limit = serializers.IntegerField(required=False, default=selectors.DEFAULT_PAGE_SIZE)

    @extend_schema_serializer(component_name="UserListOutput")
    class OutputSerializer(serializers.Serializer):
        users = UserSerializer(many=True)
        total = serializers.IntegerField()
        page = serializers.IntegerField()
        limit = serializers.IntegerField()

    @extend_schema(parameters=[FilterSerializer], responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = selectors.user_list(actor=request.user, **params.validated_data)
        return Response(self.OutputSerializer(page).data)


# --- accounts: password, email, sessions -----------------------------------------------------


class PasswordChangeApi(APIView):
    """Changes the caller's password; every other session of the user ends."""

    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="PasswordChangeInput")
    class InputSerializer(serializers.Serializer):
        current_password = serializers.CharField(max_length=4096, trim_whitespace=False)
        new_password = serializers.CharField(max_length=4096, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: EMPTY_SERIALIZER})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_password_change(caller=request.user, **data.validated_data, client=client_info(request))
        return Response({})


class PasswordResetApi(APIView):
    """Sends a reset link if an account has the address; the answer is the same either way."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="PasswordResetInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.CharField(max_length=254)

    @extend_schema(request=InputSerializer, responses={202: EMPTY_SERIALIZER}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(email=data.validated_data["email"], client=client_info(request))
        return Response({}, status=202)


class PasswordResetConfirmApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="PasswordResetConfirmInput")
    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=4096)
        new_password = serializers.CharField(max_length=4096, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: EMPTY_SERIALIZER}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_confirm(**data.validated_data, client=client_info(request))
        return Response({})


class EmailVerifyApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="EmailVerifyInput")
    class InputSerializer(serializers.Serializer):
        token = serializers.CharField(max_length=4096)

    @extend_schema(request=InputSerializer, responses={200: EMPTY_SERIALIZER}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_email_verify(token=data.validated_data["token"])
        return Response({})


class EmailVerifyResendApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={202: EMPTY_SERIALIZER})
    def post(self, request: Request) -> Response:
        services.user_verification_resend(caller=request.user, client=client_info(request))
        return Response({}, status=202)


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField()
    ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField()
    current = serializers.BooleanField()


class SessionListApi(APIView):
    """The caller's live sessions, newest first."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: inline_serializer("SessionList", {"sessions": SessionSerializer(many=True)})})
    def get(self, request: Request) -> Response:
        sessions = selectors.user_session_list(caller=request.user)
        return Response({"sessions": SessionSerializer(sessions, many=True).data})


class SessionDetailApi(APIView):
    """Ends one of the caller's sessions: its tokens are refused everywhere within a second."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, session_id: str) -> Response:
        services.user_session_end(caller=request.user, session_id=session_id)
        return Response(status=204)


def jwks(request) -> JsonResponse:
    """The public verifying keys (empty for HS256, whose secret is never published)."""
    response = JsonResponse({"keys": list(settings.JWT_KEYRING.jwks)})
    response["Cache-Control"] = "public, max-age=300"
    return response
