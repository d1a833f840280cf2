"""The ``rpc_finished`` line of the auth gRPC server: polling calls (the revocation feed every
chat process polls four times a second, health checks) stay out of the info log when they
succeed quickly; every other call, a failed poll and a slow poll are logged at info or above."""

from __future__ import annotations

import logging

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos import auth_pb2
from protos import health_pb2 as seed_health_pb2
from protos import health_pb2_grpc as seed_health_pb2_grpc
from shared_apps.accounts.tests.conftest import service_metadata
from shared_apps.core.grpc_server import interceptors

pytestmark = pytest.mark.django_db(transaction=True)


def finished(caplog, method: str) -> list[int]:
    """The levels of the ``rpc_finished`` records of ``method``."""
    return [
        r.levelno
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "rpc_finished" and r.msg.get("rpc") == method
    ]


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_a_successful_revocation_feed_poll_is_logged_at_debug_only(auth_stub, logs):
    # when
    for _ in range(3):
        auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(), metadata=service_metadata())
    # then
    assert finished(logs, "/auth.AuthService/ListRevokedSessions") == [logging.DEBUG] * 3


def test_successful_health_checks_are_logged_at_debug_only(grpc_channel, logs):
    health_pb2_grpc.HealthStub(grpc_channel).Check(health_pb2.HealthCheckRequest())
    seed_health_pb2_grpc.HealthStub(grpc_channel).Check(seed_health_pb2.HealthCheckRequest())
    assert finished(logs, "/grpc.health.v1.Health/Check") == [logging.DEBUG]
    assert finished(logs, "/auth.service.health.v1.Health/Check") == [logging.DEBUG]


def test_other_rpcs_are_still_logged_at_info(auth_stub, logs):
    # when: successful calls and a failed one of methods that are not polled
    auth_stub.SignUp(auth_pb2.UserCreateRequest(name="L", email="log-level@example.com", password="Tr0ub4dor&3-horse"))
    auth_stub.ValidateToken(auth_pb2.ValidateTokenRequest(token="not-a-token"))
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.ListUsers(auth_pb2.ListUsersRequest())  # no token
    # then
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert finished(logs, "/auth.AuthService/SignUp") == [logging.INFO]
    assert finished(logs, "/auth.AuthService/ValidateToken") == [logging.INFO]
    assert finished(logs, "/auth.AuthService/ListUsers") == [logging.INFO]


def test_a_failed_revocation_feed_poll_keeps_its_level(auth_stub, logs):
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.ListRevokedSessions(
            auth_pb2.ListRevokedSessionsRequest(since=Timestamp(seconds=2**40)), metadata=service_metadata()
        )
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert finished(logs, "/auth.AuthService/ListRevokedSessions") == [logging.INFO]


def test_a_slow_revocation_feed_poll_keeps_its_level(auth_stub, logs, monkeypatch):
    # given: every call counts as slow
    monkeypatch.setattr(interceptors, "POLLING_SLOW_MS", 0.0)
    # when
    auth_stub.ListRevokedSessions(auth_pb2.ListRevokedSessionsRequest(), metadata=service_metadata())
    # then
    assert finished(logs, "/auth.AuthService/ListRevokedSessions") == [logging.INFO]
