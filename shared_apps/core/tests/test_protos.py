"""The committed stubs match the .proto sources, and the sources keep the seed's wire contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor as F

from protos import auth_pb2, chat_pb2, codegen, health_pb2

ROOT = Path(codegen.__file__).resolve().parent.parent
STR, BOOL, I32, FLOAT, ENUM = F.TYPE_STRING, F.TYPE_BOOL, F.TYPE_INT32, F.TYPE_FLOAT, F.TYPE_ENUM
TS = ".google.protobuf.Timestamp"


def test_regenerated_stubs_are_identical(tmp_path):
    # when
    codegen.generate(tmp_path)
    # then
    generated = sorted(p.relative_to(tmp_path) for p in (tmp_path / "protos").iterdir() if p.is_file())
    assert generated, "codegen wrote nothing"
    for relative in generated:
        assert (tmp_path / relative).read_bytes() == (ROOT / relative).read_bytes(), f"{relative} drifted"
    committed = {p.relative_to(ROOT) for p in (ROOT / "protos").glob("*_pb2*.py*")}
    assert committed == set(generated)


# (package module, service, {method: (input, output, server streaming)})
SERVICES = [
    (
        auth_pb2,
        "auth.AuthService",
        {
            "SignUp": ("UserCreateRequest", "AuthResponse", False),
            "SignIn": ("Credentials", "AuthResponse", False),
            "SignOut": ("SignOutRequest", "Empty", False),
            "RefreshToken": ("RefreshTokenRequest", "TokenResponse", False),
            "RevokeToken": ("RevokeTokenRequest", "Empty", False),
            "ValidateToken": ("ValidateTokenRequest", "ValidateTokenResponse", False),
            "ListUsers": ("ListUsersRequest", "ListUsersResponse", False),
        },
    ),
    (
        health_pb2,
        "auth.service.health.v1.Health",
        {
            "Check": ("HealthCheckRequest", "HealthCheckResponse", False),
            "Watch": ("HealthCheckRequest", "HealthCheckResponse", True),
        },
    ),
    (
        chat_pb2,
        "chat.ChatService",
        {
            "SendMessage": ("ChatRequest", "ChatResponse", False),
            "StreamMessages": ("StreamMessageRequest", "StreamMessageResponse", True),
            "GetHistory": ("GetHistoryRequest", "GetHistoryResponse", False),
            "ChatWithAI": ("ChatWithAIRequest", "ChatWithAIResponse", False),
            "ListConversations": ("ListConversationsRequest", "ListConversationsResponse", False),
            "CreateConversation": ("Conversation", "Conversation", False),
        },
    ),
]

# message: {number: (name, type or message type name, repeated)}
MESSAGES = {
    auth_pb2: {
        "User": {1: ("id", STR), 2: ("name", STR), 3: ("email", STR), 4: ("created_at", TS), 5: ("updated_at", TS)},
        "Credentials": {1: ("email", STR), 2: ("password", STR)},
        "UserCreateRequest": {1: ("name", STR), 2: ("email", STR), 3: ("password", STR)},
        "UserToken": {
            1: ("id", STR),
            2: ("user_id", STR),
            3: ("access_token", STR),
            4: ("refresh_token", STR),
            5: ("access_expires_at", TS),
            6: ("refresh_expires_at", TS),
            7: ("is_revoked", BOOL),
            8: ("created_at", TS),
        },
        "AuthResponse": {1: ("user", ".auth.User"), 2: ("tokens", ".auth.UserToken")},
        "TokenResponse": {1: ("tokens", ".auth.UserToken")},
        "RefreshTokenRequest": {1: ("refresh_token", STR)},
        "RevokeTokenRequest": {1: ("access_token", STR)},
        "ValidateTokenRequest": {1: ("token", STR)},
        "ValidateTokenResponse": {1: ("user_id", STR), 2: ("valid", BOOL), 3: ("error_message", STR)},
        "SignOutRequest": {1: ("access_token", STR)},
        "ListUsersRequest": {1: ("page", I32), 2: ("limit", I32)},
        "ListUsersResponse": {1: ("users", ".auth.User", True), 2: ("total", I32), 3: ("page", I32), 4: ("limit", I32)},
        "Empty": {},
    },
    health_pb2: {
        "HealthCheckRequest": {1: ("service", STR)},
        "HealthCheckResponse": {1: ("status", ENUM)},
    },
    chat_pb2: {
        "Message": {
            1: ("id", STR),
            2: ("user_id", STR),
            3: ("content", STR),
            4: ("role", STR),
            5: ("created_at", TS),
            6: ("updated_at", TS),
        },
        "ChatRequest": {1: ("message", STR), 2: ("conversation_id", STR)},
        "ChatResponse": {1: ("message", ".chat.Message"), 2: ("conversation_id", STR), 3: ("is_ai_response", BOOL)},
        "StreamMessageRequest": {1: ("conversation_id", STR)},
        "StreamMessageResponse": {1: ("message", ".chat.Message"), 2: ("is_end", BOOL)},
        "GetHistoryRequest": {1: ("conversation_id", STR), 2: ("limit", I32), 3: ("offset", I32)},
        "GetHistoryResponse": {1: ("messages", ".chat.Message", True), 2: ("total", I32), 3: ("conversation_id", STR)},
        "ChatWithAIRequest": {
            1: ("message", STR),
            2: ("conversation_id", STR),
            3: ("model", STR),
            4: ("temperature", FLOAT),
            5: ("max_tokens", I32),
        },
        "ChatWithAIResponse": {
            1: ("ai_message", STR),
            2: ("conversation_id", STR),
            3: ("model_used", STR),
            4: ("tokens_used", I32),
            5: ("created_at", TS),
        },
        "Conversation": {1: ("id", STR), 2: ("title", STR), 3: ("created_at", TS), 4: ("updated_at", TS)},
        "ListConversationsRequest": {1: ("limit", I32), 2: ("offset", I32)},
        "ListConversationsResponse": {1: ("conversations", ".chat.Conversation", True), 2: ("total", I32)},
        "Empty": {},
    },
}


@pytest.mark.parametrize("module, service_name, methods", SERVICES, ids=[s[1] for s in SERVICES])
def test_services_and_methods_of_the_seed(module, service_name, methods):
    # given
    package, _, short = service_name.rpartition(".")
    service = module.DESCRIPTOR.services_by_name[short]
    # then
    assert module.DESCRIPTOR.package == package
    assert service.full_name == service_name
    for name, (request, response, streaming) in methods.items():
        method = service.methods_by_name[name]
        assert method.input_type.full_name == f"{package}.{request}"
        assert method.output_type.full_name == f"{package}.{response}"
        assert method.server_streaming is streaming
        assert not method.client_streaming


@pytest.mark.parametrize("module", list(MESSAGES), ids=lambda m: m.DESCRIPTOR.package)
def test_messages_keep_the_seed_field_numbers_and_types(module):
    for message_name, fields in MESSAGES[module].items():
        descriptor = module.DESCRIPTOR.message_types_by_name[message_name]
        for number, (name, kind, *repeated) in fields.items():
            field = descriptor.fields_by_number[number]
            assert field.name == name, f"{message_name}.{number}"
            if isinstance(kind, str):
                assert "." + field.message_type.full_name == kind, f"{message_name}.{name}"
            else:
                assert field.type == kind, f"{message_name}.{name}"
            is_repeated = field.label == F.LABEL_REPEATED if hasattr(field, "label") else field.is_repeated
            assert is_repeated == bool(repeated), f"{message_name}.{name}"


def test_seed_health_status_enum():
    enum = health_pb2.HealthCheckResponse.DESCRIPTOR.enum_types_by_name["ServingStatus"]
    assert {v.name: v.number for v in enum.values} == {
        "UNKNOWN": 0,
        "SERVING": 1,
        "NOT_SERVING": 2,
        "SERVICE_UNKNOWN": 3,
    }
