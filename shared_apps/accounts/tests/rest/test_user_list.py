"""GET /v1/users: admins only, paginated."""

from __future__ import annotations

import pytest

from shared_apps.accounts.tests.conftest import bearer
from shared_apps.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/v1/users"


def test_anonymous_is_401(api):
    # when
    response = api.get(URL)
    # then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_non_admin_is_403(api, signed_in):
    # given
    _user, tokens = signed_in
    # when
    response = api.get(URL, **bearer(tokens.access_token))
    # then
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_admin_lists_users(api, staff, staff_tokens):
    # given
    others = UserFactory.create_batch(2)
    # when
    response = api.get(URL, **bearer(staff_tokens.access_token))
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert body["page"] == 1
    assert body["limit"] == 20
    assert [u["id"] for u in body["users"]] == [str(u.id) for u in [staff, *others]]
    assert set(body["users"][0]) == {"id", "name", "email", "created_at", "updated_at", "email_verified"}


def test_demoted_admin_is_refused_at_once(api, staff, staff_tokens):
    # given
    staff.is_staff = False
    staff.save()
    # when
    response = api.get(URL, **bearer(staff_tokens.access_token))
    # then
    assert response.status_code == 403


def test_pagination(api, staff_tokens):
    # given
    UserFactory.create_batch(4)
    # when
    response = api.get(URL, {"page": 2, "limit": 2}, **bearer(staff_tokens.access_token))
    # then
    body = response.json()
    assert (body["total"], body["page"], body["limit"], len(body["users"])) == (5, 2, 2, 2)
    last = api.get(URL, {"page": 3, "limit": 2}, **bearer(staff_tokens.access_token)).json()
    assert len(last["users"]) == 1
    beyond = api.get(URL, {"page": 9, "limit": 2}, **bearer(staff_tokens.access_token)).json()
    assert beyond["users"] == [] and beyond["total"] == 5


def test_limit_zero_means_default(api, staff_tokens):
    # when
    response = api.get(URL, {"limit": 0}, **bearer(staff_tokens.access_token))
    # then
    assert response.status_code == 200
    assert response.json()["limit"] == 20


@pytest.mark.parametrize(
    "params",
    [{"limit": 101}, {"limit": -1}, {"page": 0}, {"page": -1}, {"page": "x"}, {"limit": "x"}, {"page": 10**20}],
)
def test_out_of_bounds_paging_is_400(api, staff_tokens, params):
    # when
    response = api.get(URL, params, **bearer(staff_tokens.access_token))
    # then
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_argument"


def test_limit_100_is_allowed(api, staff_tokens):
    # when
    response = api.get(URL, {"limit": 100}, **bearer(staff_tokens.access_token))
    # then
    assert response.status_code == 200
    assert response.json()["limit"] == 100
