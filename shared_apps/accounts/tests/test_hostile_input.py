"""The auth service against input built to crash a parser: JSON nested past the recursion
limit (REST) and bytes that are no protobuf (gRPC) are the client's mistake, 400 and
INVALID_ARGUMENT, never 500 or INTERNAL."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

pytestmark = pytest.mark.django_db(transaction=True)

NESTED = "[" * 30_000 + "]" * 30_000


@pytest.mark.parametrize("path", ["/v1/auth/signup", "/v1/auth/signin", "/v1/auth/refresh"])
def test_rest_deeply_nested_json_is_400(api, path):
    response = api.post(path, data=NESTED, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"


@pytest.mark.parametrize("method", ["SignIn", "SignUp", "ValidateToken"])
def test_grpc_undecodable_request_is_invalid_argument(grpc_channel, method):
    call = grpc_channel.unary_unary(f"/auth.AuthService/{method}", request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as caught:
        call(b"\x0a\x05ab", timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    # and the server keeps serving
    health = health_pb2_grpc.HealthStub(grpc_channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
