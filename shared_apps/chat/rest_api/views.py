"""REST transport of the chat service (``/v1/chat``). Each view parses its input,
calls the service layer and renders; domain errors are mapped once in ``rest_errors``."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message as ProtoMessage
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.chat import exports, follow, reply_producer, reply_reader, search, selectors, services
from shared_apps.chat.grpc_api.servicers import stored_stream_frames
from shared_apps.chat.payloads import message_data, models_data, search_result_data
from shared_apps.chat.rest_api.serializers import ConversationSerializer, MessageSerializer
from shared_apps.core.middleware import current_request_id


class WindowSerializer(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=None, allow_null=True)
    offset = serializers.IntegerField(required=False, default=0)


class ReplyParamsSerializer(serializers.Serializer):
    model = serializers.CharField(required=False, allow_blank=True, max_length=100)
    temperature = serializers.FloatField(required=False, allow_null=True)
    max_tokens = serializers.IntegerField(required=False, allow_null=True)


def _window(request: Request) -> dict:
    params = WindowSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data


def _message_page_schema(name: str, item: serializers.Serializer):
    return extend_schema(
        parameters=[WindowSerializer],
        responses={
            200: inline_serializer(
                name,
                {"messages": item, "total": serializers.IntegerField(), "conversation_id": serializers.UUIDField()},
            )
        },
    )


def _message_page(request: Request, conversation_id: str, render) -> Response:
    """A page of a conversation's messages, oldest first; ``render`` shapes the messages."""
    conversation, page = selectors.message_list(
        user_id=request.user.user_id, conversation_id=conversation_id, **_window(request)
    )
    return Response({"messages": render(page.items), "total": page.total, "conversation_id": str(conversation.id)})


class ConversationListApi(APIView):
    @extend_schema_serializer(component_name="ConversationCreateInput")
    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    @extend_schema(
        parameters=[WindowSerializer],
        responses={
            200: inline_serializer(
                "ConversationList",
                {
                    "conversations": ConversationSerializer(many=True),
                    "total": serializers.IntegerField(),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        page = selectors.conversation_list(user_id=request.user.user_id, **_window(request))
        return Response({"conversations": ConversationSerializer(page.items, many=True).data, "total": page.total})

    @extend_schema(request=InputSerializer, responses={201: ConversationSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_create(user_id=request.user.user_id, **data.validated_data)
        return Response(ConversationSerializer(conversation).data, status=201)


class ConversationDetailApi(APIView):
    @extend_schema_serializer(component_name="ConversationRenameInput")
    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(allow_blank=True, max_length=200)

    @extend_schema(responses={200: ConversationSerializer}, operation_id="chat_conversations_get")
    def get(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get(user_id=request.user.user_id, conversation_id=conversation_id)
        return Response(ConversationSerializer(conversation).data)

    @extend_schema(request=InputSerializer, responses={200: ConversationSerializer})
    def patch(self, request: Request, conversation_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_rename(
            user_id=request.user.user_id, conversation_id=conversation_id, title=data.validated_data["title"]
        )
        return Response(ConversationSerializer(conversation).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, conversation_id: str) -> Response:
        services.conversation_delete(user_id=request.user.user_id, conversation_id=conversation_id)
        return Response(status=204)


class MessageListApi(APIView):
    @extend_schema_serializer(component_name="MessageCreateInput")
    class InputSerializer(ReplyParamsSerializer):
        content = serializers.CharField(trim_whitespace=False, allow_blank=True)
        client_message_id = serializers.CharField(required=False, allow_blank=True, max_length=100)

    @_message_page_schema("MessageList", MessageSerializer(many=True))
    def get(self, request: Request, conversation_id: str) -> Response:
        return _message_page(request, conversation_id, lambda items: [message_data(m) for m in items])

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer(
                "Exchange",
                {
                    "user_message": MessageSerializer(),
                    "assistant_message": MessageSerializer(),
                },
            )
        },
    )
    def post(self, request: Request, conversation_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan, assistant = reply_reader.reply_complete(
            user_id=request.user.user_id,
            conversation_id=conversation_id,
            request_id=current_request_id(),
            **data.validated_data,
        )
        return Response(
            {"user_message": message_data(plan.user_message), "assistant_message": message_data(assistant)}, status=201
        )


class RegenerateApi(APIView):
    """A new reply to the user message an assistant message answers, beside it (the old one
    stays); the conversation's active branch moves to it."""

    @extend_schema_serializer(component_name="RegenerateInput")
    class InputSerializer(ReplyParamsSerializer):
        client_message_id = serializers.CharField(required=False, allow_blank=True, max_length=100)

    @extend_schema(
        request=InputSerializer,
        responses={201: inline_serializer("Regenerated", {"assistant_message": MessageSerializer()})},
    )
    def post(self, request: Request, message_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _plan, assistant = reply_reader.reply_complete(
            reply_producer.reply_regenerate_begin,
            user_id=request.user.user_id,
            message_id=message_id,
            request_id=current_request_id(),
            **data.validated_data,
        )
        return Response({"assistant_message": message_data(assistant)}, status=201)


class EditApi(APIView):
    """A new user message beside a user message (the same parent; the old one stays) and its
    reply; the conversation's active branch moves to them."""

    @extend_schema_serializer(component_name="EditInput")
    class InputSerializer(ReplyParamsSerializer):
        content = serializers.CharField(trim_whitespace=False, allow_blank=True)
        client_message_id = serializers.CharField(required=False, allow_blank=True, max_length=100)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer(
                "Edited", {"user_message": MessageSerializer(), "assistant_message": MessageSerializer()}
            )
        },
    )
    def post(self, request: Request, message_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan, assistant = reply_reader.reply_complete(
            reply_producer.reply_edit_begin,
            user_id=request.user.user_id,
            message_id=message_id,
            request_id=current_request_id(),
            **data.validated_data,
        )
        return Response(
            {"user_message": message_data(plan.user_message), "assistant_message": message_data(assistant)}, status=201
        )


class BranchApi(APIView):
    """Choose the branch ``GET .../messages`` answers: the path to ``leaf_message_id`` (a
    message that is not a leaf selects the newest leaf below it)."""

    @extend_schema_serializer(component_name="BranchSelectInput")
    class InputSerializer(serializers.Serializer):
        leaf_message_id = serializers.CharField()

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "BranchSelected",
                {"conversation_id": serializers.UUIDField(), "leaf_message_id": serializers.UUIDField()},
            )
        },
    )
    def put(self, request: Request, conversation_id: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation, leaf_id = services.conversation_branch_select(
            user_id=request.user.user_id,
            conversation_id=conversation_id,
            leaf_message_id=data.validated_data["leaf_message_id"],
        )
        return Response({"conversation_id": str(conversation.id), "leaf_message_id": str(leaf_id)})


class SendMessageApi(APIView):
    """The seed's SendMessage: store a user message, no AI reply; 200, as the seed."""

    @extend_schema_serializer(component_name="SendMessageInput")
    class InputSerializer(serializers.Serializer):
        message = serializers.CharField(trim_whitespace=False, allow_blank=True)
        conversation_id = serializers.CharField(required=False, allow_blank=True)

    @extend_schema(
        request=InputSerializer,
        responses={
            200: inline_serializer(
                "SentMessage",
                {
                    "message": MessageSerializer(),
                    "conversation_id": serializers.UUIDField(),
                    "is_ai_response": serializers.BooleanField(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_store(
            user_id=request.user.user_id,
            conversation_id=data.validated_data.get("conversation_id") or None,
            content=data.validated_data["message"],
        )
        return Response(
            {
                "message": message_data(message),
                "conversation_id": str(message.conversation_id),
                "is_ai_response": False,
            },
            status=200,  # the seed's status
        )


class ChatWithAIApi(APIView):
    """The seed's ChatWithAI: the whole reply in one answer."""

    @extend_schema_serializer(component_name="ChatWithAIInput")
    class InputSerializer(ReplyParamsSerializer):
        message = serializers.CharField(trim_whitespace=False, allow_blank=True)
        conversation_id = serializers.CharField(required=False, allow_blank=True)
        client_message_id = serializers.CharField(required=False, allow_blank=True, max_length=100)

    @extend_schema_serializer(component_name="ChatWithAIOutput")
    class OutputSerializer(serializers.Serializer):
        ai_message = serializers.CharField()
        conversation_id = serializers.UUIDField()
        model_used = serializers.CharField()
        tokens_used = serializers.IntegerField()
        created_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        _plan, reply = reply_reader.reply_complete(
            user_id=request.user.user_id,
            conversation_id=params.pop("conversation_id", "") or None,
            content=params.pop("message"),
            request_id=current_request_id(),
            **params,
        )
        return Response(
            self.OutputSerializer(
                {
                    "ai_message": reply.content,
                    "conversation_id": reply.conversation_id,
                    "model_used": reply.model,
                    "tokens_used": reply.total_tokens or 0,
                    "created_at": reply.created_at,
                }
            ).data
        )


class HistoryApi(APIView):
    """The seed's GetHistory shape."""

    class SeedMessageSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        user_id = serializers.UUIDField()
        content = serializers.CharField()
        role = serializers.CharField()
        created_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()

    @_message_page_schema("History", SeedMessageSerializer(many=True))
    def get(self, request: Request, conversation_id: str) -> Response:
        return _message_page(request, conversation_id, lambda items: self.SeedMessageSerializer(items, many=True).data)


def gateway_dict(message: ProtoMessage) -> dict[str, Any]:
    """A protobuf message as the seed's grpc-gateway renders it: proto3 JSON with the proto field
    names (snake_case) and unpopulated fields emitted (scalars as their zero value, unset message
    fields as null)."""
    data = MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    return {
        field.name: data.get(field.name)  # an unset message field is absent from data: None
        for field in message.DESCRIPTOR.fields
        if field.name in data or (field.message_type is not None and not field.is_repeated)
    }


class StreamApi(APIView):
    """The seed's REST route of ``StreamMessages`` (grpc-gateway's server-streaming shape):
    newline-delimited JSON, one ``{"result": {...}}`` per stream frame, the stored messages and
    then ``is_end``; the response ends there (it never follows: use the websocket or gRPC)."""

    # No body schema: the answer is not one JSON document but one a line, which an OpenAPI
    # response schema cannot say; the shape is in the description.
    @extend_schema(
        responses={
            200: OpenApiResponse(
                description=(
                    "Newline-delimited JSON (content type application/json, as grpc-gateway sends it): one line "
                    'a frame, `{"result": {"message": {id, user_id, content, role, created_at, updated_at, '
                    'conversation_id, status, model}, "is_end": false, "delta": null}}` for each stored message '
                    '(the newest 100, oldest first), then `{"result": {"message": null, "is_end": true, '
                    '"delta": null}}`, then the end.'
                )
            )
        },
    )
    def get(self, request: Request, conversation_id: str) -> HttpResponse:
        # Read before the response starts, so that an error is a whole error answer (400/404).
        messages = follow.conversation_stored(user_id=request.user.user_id, conversation_id=conversation_id)
        # The same frames as gRPC StreamMessages, transcoded as grpc-gateway does; all are known
        # before the first byte, so one body of newline-delimited JSON.
        frames = stored_stream_frames(messages)
        body = b"".join(orjson.dumps({"result": gateway_dict(frame)}) + b"\n" for frame in frames)
        return HttpResponse(body, content_type="application/json")


class ModelListApi(APIView):
    """The models the caller may name in a request, and the default."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "ModelList",
                {
                    "models": inline_serializer("ModelItem", {"id": serializers.CharField()}, many=True),
                    "default": serializers.CharField(),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response(models_data(selectors.model_choices()))


class FirstRendererNegotiation(DefaultContentNegotiation):
    """Ignores DRF's ``?format=`` renderer override, for views whose own parameter is named
    ``format``; their answers (and errors) are rendered by the first renderer, JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportApi(APIView):
    """The conversation and its messages as a file (``Content-Disposition: attachment``)."""

    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, enum=sorted(exports.FORMATS), default="json", description="json or markdown"
            )
        ],
        responses={
            200: OpenApiResponse(
                description=(
                    "An attachment. json: `{conversation: {id, title, created_at, updated_at}, messages: "
                    "[{id, conversation_id, user_id, role, content, status, model, created_at, updated_at}]}`, "
                    "messages oldest first; markdown: a `#` title heading, then each message under a `##` "
                    "heading naming its role (and its status unless complete)."
                )
            )
        },
    )
    def get(self, request: Request, conversation_id: str) -> HttpResponse:
        export = exports.conversation_export(
            user_id=request.user.user_id, conversation_id=conversation_id, fmt=request.query_params.get("format")
        )
        response = HttpResponse(export.body, content_type=export.content_type)
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=export.filename)
        return response


class SearchApi(APIView):
    """The caller's titles and message contents matching ``q``, best first."""

    class ParamsSerializer(WindowSerializer):
        q = serializers.CharField(
            required=False,
            default="",
            allow_blank=True,
            trim_whitespace=False,
            help_text='Words, "quoted phrases", `or`, `-word`; at most 200 characters.',
        )

    @extend_schema(
        parameters=[ParamsSerializer],
        responses={
            200: inline_serializer(
                "SearchResults",
                {
                    "results": inline_serializer(
                        "SearchResult",
                        {
                            "conversation": ConversationSerializer(),
                            "message_id": serializers.UUIDField(allow_null=True),
                            "snippet": serializers.CharField(),
                        },
                        many=True,
                    ),
                    "total": serializers.IntegerField(),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        params = self.ParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = search.conversation_search(user_id=request.user.user_id, **params.validated_data)
        return Response({"results": [search_result_data(hit) for hit in page.items], "total": page.total})
