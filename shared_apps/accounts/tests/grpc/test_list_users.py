"""auth.AuthService/ListUsers: admins only."""

from __future__ import annotations

import grpc
import pytest

from protos import auth_pb2
from shared_apps.accounts.tests.conftest import bearer_metadata
from shared_apps.accounts.tests.factories import PASSWORD, StaffUserFactory, UserFactory


def _tokens(auth_stub, user) -> auth_pb2.UserToken:
    return auth_stub.SignIn(auth_pb2.Credentials(email=user.email, password=PASSWORD)).tokens


def test_admin_lists_users_paginated(auth_stub):
    # given
    staff = StaffUserFactory()
    UserFactory.create_batch(3)
    token = _tokens(auth_stub, staff).access_token
    # when
    first = auth_stub.ListUsers(auth_pb2.ListUsersRequest(), metadata=bearer_metadata(token))
    second = auth_stub.ListUsers(auth_pb2.ListUsersRequest(page=2, limit=3), metadata=bearer_metadata(token))
    # then
    assert (first.total, first.page, first.limit, len(first.users)) == (4, 1, 20, 4)
    assert first.users[0].id == str(staff.id)
    assert (second.total, second.page, second.limit, len(second.users)) == (4, 2, 3, 1)


def test_non_admin_is_permission_denied(auth_stub):
    # given
    token = _tokens(auth_stub, UserFactory()).access_token
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.ListUsers(auth_pb2.ListUsersRequest(), metadata=bearer_metadata(token))
    # then
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer junk"),), (("authorization", "Basic x"),)])
def test_without_a_valid_token_is_unauthenticated(auth_stub, metadata):
    # when
    with pytest.raises(grpc.RpcError) as caught:
        auth_stub.ListUsers(auth_pb2.ListUsersRequest(), metadata=metadata)
    # then
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("page, limit", [(-1, 0), (0, -1), (0, 101), (2**31 - 1, 100)])
def test_bad_paging_is_invalid_argument_or_empty(auth_stub, page, limit):
    # given
    token = _tokens(auth_stub, StaffUserFactory()).access_token
    # when
    try:
        request = auth_pb2.ListUsersRequest(page=page, limit=limit)
        response = auth_stub.ListUsers(request, metadata=bearer_metadata(token))
    except grpc.RpcError as exc:
        # then
        assert exc.code() is grpc.StatusCode.INVALID_ARGUMENT
    else:
        assert page == 2**31 - 1 and list(response.users) == []
