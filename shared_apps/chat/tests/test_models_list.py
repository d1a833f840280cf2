"""The models a caller may ask for: REST ``GET /v1/chat/models`` and gRPC ``ListModels``."""

from __future__ import annotations

import grpc
import pytest

from protos import chat_pb2, chat_pb2_grpc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def configured_models(settings):
    settings.CHAT_MODEL = "fake-model"
    settings.CHAT_ALLOWED_MODELS = ["gpt-4o-mini", "fake-model"]


def test_rest_lists_the_allowed_models_and_the_default(api, alice, configured_models):
    response = api.get("/v1/chat/models", **alice.headers)
    assert response.status_code == 200
    assert response.json() == {"models": [{"id": "gpt-4o-mini"}, {"id": "fake-model"}], "default": "fake-model"}


def test_rest_models_need_a_token(api):
    response = api.get("/v1/chat/models")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"


def test_grpc_lists_the_allowed_models_and_the_default(grpc_channel, alice, configured_models):
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    answer = chat.ListModels(chat_pb2.ListModelsRequest(), metadata=alice.metadata, timeout=5)
    assert [m.id for m in answer.models] == ["gpt-4o-mini", "fake-model"] and answer.default == "fake-model"
    with pytest.raises(grpc.RpcError) as exc:
        chat.ListModels(chat_pb2.ListModelsRequest(), timeout=5)
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
