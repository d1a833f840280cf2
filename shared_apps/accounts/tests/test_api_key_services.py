"""API keys at the service layer: creation, verification (and forgeries), deletion, the feed."""

from __future__ import annotations

import pytest

from shared_apps.accounts import api_keys, services
from shared_apps.accounts.models import ApiKey
from shared_apps.accounts.tests.factories import UserFactory
from shared_apps.core.errors import NotFound

pytestmark = pytest.mark.django_db


def _changed(key: str, index: int) -> str:
    replacement = "A" if key[index] != "A" else "B"
    return key[:index] + replacement + key[index + 1 :]


def test_a_key_is_stored_as_a_digest_and_a_prefix():
    # given
    user = UserFactory()
    # when
    created = api_keys.api_key_create(user_id=user.id, name="bot")
    # then
    stored = ApiKey.objects.get(id=created.api_key.id)
    assert created.key.startswith("cak_") and len(created.key) == api_keys.KEY_LENGTH
    assert stored.prefix == created.key[: api_keys.PREFIX_LENGTH]
    assert created.key[api_keys.PREFIX_LENGTH :] not in stored.key_hash and len(stored.key_hash) == 64


def test_verify_answers_the_owner_and_notes_the_use():
    # given
    user = UserFactory()
    created = api_keys.api_key_create(user_id=user.id, name="bot")
    # when
    result = api_keys.api_key_verify(key=created.key)
    # then
    assert result == api_keys.ApiKeyVerification(valid=True, user_id=str(user.id), api_key_id=str(created.api_key.id))
    assert ApiKey.objects.get(id=created.api_key.id).last_used_at is not None


@pytest.mark.parametrize("index", [5, 10, 20, -1], ids=["in-prefix", "prefix-end", "body", "last"])
def test_a_key_with_one_character_changed_is_refused(index):
    # given
    user = UserFactory()
    created = api_keys.api_key_create(user_id=user.id, name="bot")
    # when
    result = api_keys.api_key_verify(key=_changed(created.key, index))
    # then
    assert result.valid is False and result.user_id == ""


@pytest.mark.parametrize("key", ["", "cak_", "cak_" + "a" * 200, "eyJhbGciOi.x.y", "cak_" + "é" * 48])
def test_malformed_keys_are_refused(key):
    assert api_keys.api_key_verify(key=key).valid is False


def test_deleted_keys_and_keys_of_deactivated_users_are_refused_and_fed():
    # given
    alice, bob = UserFactory(), UserFactory()
    deleted = api_keys.api_key_create(user_id=alice.id, name="a")
    kept = api_keys.api_key_create(user_id=alice.id, name="b")
    bobs = api_keys.api_key_create(user_id=bob.id, name="c")
    # when
    api_keys.api_key_delete(user_id=alice.id, api_key_id=str(deleted.api_key.id))
    services.user_deactivate(user=bob)
    # then
    assert not api_keys.api_key_verify(key=deleted.key).valid
    assert not api_keys.api_key_verify(key=bobs.key).valid
    assert api_keys.api_key_verify(key=kept.key).valid
    fed = api_keys.revoked_api_keys_since(since=None)
    assert str(deleted.api_key.id) in fed and str(bobs.api_key.id) in fed and str(kept.api_key.id) not in fed


def test_keys_deleted_with_their_user_are_fed():
    # given
    user = UserFactory()
    created = api_keys.api_key_create(user_id=user.id, name="a")
    # when
    user.delete()
    # then
    assert str(created.api_key.id) in api_keys.revoked_api_keys_since(since=None)


def test_delete_is_owner_only():
    # given
    alice, bob = UserFactory(), UserFactory()
    created = api_keys.api_key_create(user_id=alice.id, name="a")
    # when / then
    with pytest.raises(NotFound):
        api_keys.api_key_delete(user_id=bob.id, api_key_id=str(created.api_key.id))
    assert api_keys.api_key_verify(key=created.key).valid
