"""API keys over REST: POST|GET /v1/auth/api-keys, DELETE /v1/auth/api-keys/{id}."""

from __future__ import annotations

import uuid

import pytest

from shared_apps.accounts import api_keys, services
from shared_apps.accounts.models import ApiKey
from shared_apps.accounts.tests.conftest import bearer
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
URL = "/v1/auth/api-keys"


def test_create_shows_the_key_once_and_list_never(api, signed_in):
    # given
    user, tokens = signed_in
    # when
    created = api.post(URL, {"name": "ci bot"}, format="json", **bearer(tokens.access_token))
    listed = api.get(URL, **bearer(tokens.access_token))
    # then
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "key", "prefix", "created_at"}
    assert body["name"] == "ci bot" and body["key"].startswith("cak_") and body["key"].startswith(body["prefix"])
    assert listed.status_code == 200
    (item,) = listed.json()["api_keys"]
    assert item["id"] == body["id"] and item["prefix"] == body["prefix"] and "key" not in item
    assert body["key"] not in listed.content.decode()
    stored = ApiKey.objects.get(id=body["id"])
    assert stored.user_id == user.id and body["key"] not in stored.key_hash
    assert api_keys.api_key_verify(key=body["key"]).user_id == str(user.id)


def test_delete_own_key_is_204_and_it_stops_working(api, signed_in):
    # given
    _user, tokens = signed_in
    body = api.post(URL, {"name": "k"}, format="json", **bearer(tokens.access_token)).json()
    # when
    response = api.delete(f"{URL}/{body['id']}", **bearer(tokens.access_token))
    # then
    assert response.status_code == 204
    assert api.get(URL, **bearer(tokens.access_token)).json() == {"api_keys": []}
    assert api_keys.api_key_verify(key=body["key"]).valid is False
    assert api.delete(f"{URL}/{body['id']}", **bearer(tokens.access_token)).status_code == 404


def test_another_users_key_is_404_and_stays(api, signed_in):
    # given
    _user, tokens = signed_in
    other = UserFactory()
    other_tokens = services.user_signin(email=other.email, password=PASSWORD).tokens
    theirs = api.post(URL, {"name": "theirs"}, format="json", **bearer(other_tokens.access_token)).json()
    # when
    response = api.delete(f"{URL}/{theirs['id']}", **bearer(tokens.access_token))
    # then
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert api_keys.api_key_verify(key=theirs["key"]).valid is True
    assert api.get(URL, **bearer(tokens.access_token)).json() == {"api_keys": []}


@pytest.mark.parametrize(
    "path, status", [(f"{URL}/not-a-uuid", 400), (f"{URL}/{uuid.uuid4()}", 404)], ids=["not-uuid", "unknown"]
)
def test_delete_bad_ids(api, signed_in, path, status):
    # given
    _user, tokens = signed_in
    # when / then
    assert api.delete(path, **bearer(tokens.access_token)).status_code == status


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_bad_names_are_400(api, signed_in, name):
    # given
    _user, tokens = signed_in
    # when
    response = api.post(URL, {"name": name}, format="json", **bearer(tokens.access_token))
    # then
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_argument"


def test_keys_need_a_signed_in_caller_and_an_api_key_is_not_one_here(api, signed_in):
    # given: a key
    _user, tokens = signed_in
    key = api.post(URL, {"name": "k"}, format="json", **bearer(tokens.access_token)).json()["key"]
    # when / then: without a credential, or with the key (a key cannot mint or list keys)
    assert api.get(URL).status_code == 401
    assert api.get(URL, **bearer(key)).status_code == 401
