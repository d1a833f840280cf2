"""Fixtures of the auth service's tests: API clients, users, signed-in sessions, gRPC stubs."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from protos import auth_pb2_grpc
from shared_apps.accounts import services
from shared_apps.accounts.tests.factories import PASSWORD, StaffUserFactory, UserFactory


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return StaffUserFactory()


@pytest.fixture
def signed_in(user):
    """(user, tokens) for a fresh session."""
    return user, services.user_signin(email=user.email, password=PASSWORD).tokens


@pytest.fixture
def staff_tokens(staff):
    return services.user_signin(email=staff.email, password=PASSWORD).tokens


@pytest.fixture
def auth_stub(grpc_channel) -> auth_pb2_grpc.AuthServiceStub:
    return auth_pb2_grpc.AuthServiceStub(grpc_channel)


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
