"""The admin shows two-factor status and API keys (never a secret), turns two-factor off and
deletes keys."""

from __future__ import annotations

import pytest

from shared_apps.accounts import api_keys, mfa, services
from shared_apps.accounts.models import ApiKey, TotpDevice
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.accounts.tests.mfa_support import two_factor_on

pytestmark = pytest.mark.django_db


def test_user_page_shows_two_factor_status_and_keys_without_secrets(admin_client):
    # given
    user = UserFactory()
    two_factor = two_factor_on(user)
    created = api_keys.api_key_create(user_id=user.id, name="nightly export")
    # when
    page = admin_client.get(f"/admin/accounts/user/{user.id}/change/").content.decode()
    # then
    assert "Two-factor sign-in" in page and "on since" in page and "10 recovery codes left" in page
    assert "nightly export" in page and created.api_key.prefix in page
    device = TotpDevice.objects.get(user=user)
    for secret in [two_factor.secret, device.secret_encrypted, created.key, created.api_key.key_hash]:
        assert secret not in page
    assert not any(code in page for code in two_factor.recovery_codes)


def test_user_without_two_factor_shows_off(admin_client):
    # given
    user = UserFactory()
    # when
    page = admin_client.get(f"/admin/accounts/user/{user.id}/change/").content.decode()
    # then
    assert "Two-factor sign-in" in page and ">off<" in page.replace("\n", "").replace(" ", "")


def test_action_turns_two_factor_off(admin_client):
    # given
    user = UserFactory()
    two_factor_on(user)
    # when
    response = admin_client.post(
        "/admin/accounts/user/", {"action": "two_factor_reset", "_selected_action": [str(user.id)]}, follow=True
    )
    # then
    assert response.status_code == 200
    assert isinstance(services.user_signin(email=user.email, password=PASSWORD), services.AuthResult)
    assert not mfa.totp_status(user=user).enabled


def test_api_key_list_and_delete_action(admin_client):
    # given
    user = UserFactory()
    created = api_keys.api_key_create(user_id=user.id, name="deploy bot")
    # when
    listing = admin_client.get("/admin/accounts/apikey/").content.decode()
    response = admin_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_api_keys", "_selected_action": [str(created.api_key.id)]},
        follow=True,
    )
    # then
    assert "deploy bot" in listing and created.api_key.prefix in listing and user.email in listing
    assert created.key not in listing and created.api_key.key_hash not in listing
    assert response.status_code == 200
    assert api_keys.api_key_verify(key=created.key).valid is False
    assert str(created.api_key.id) in api_keys.revoked_api_keys_since(since=None)


def test_api_key_deleted_through_the_admin_is_in_the_feed(admin_client):
    # given
    user = UserFactory()
    created = api_keys.api_key_create(user_id=user.id, name="k")
    # when: the row itself is deleted (the delete view)
    response = admin_client.post(f"/admin/accounts/apikey/{created.api_key.id}/delete/", {"post": "yes"})
    # then
    assert response.status_code == 302
    assert not ApiKey.objects.filter(id=created.api_key.id).exists()
    assert str(created.api_key.id) in api_keys.revoked_api_keys_since(since=None)
