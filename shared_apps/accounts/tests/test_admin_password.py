"""A password set in the Django admin ends every session of that user: their tokens stop working
at the auth service at once, and at the chat service as soon as its revocation feed has polled."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from shared_apps.accounts import services
from shared_apps.accounts.models import Session
from shared_apps.accounts.tests.conftest import bearer
from shared_apps.accounts.tests.factories import PASSWORD, StaffUserFactory, UserFactory
from shared_apps.authn.revocation import RevocationFeed

NEW_PASSWORD = "an0ther-Long-passphrase"


def _admin_sets(client, user, form: dict) -> None:
    response = client.post(f"/admin/accounts/user/{user.id}/password/", form)
    # done: the admin goes on to the user's change page (a refused form stays on this one)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == f"/admin/accounts/user/{user.id}/change/"


@pytest.mark.django_db(transaction=True)
def test_a_password_set_in_the_admin_ends_every_session(client, auth_grpc_target):
    # given: a user signed in twice (two devices), and the chat side's feed client on the real gRPC server
    user = UserFactory()
    sessions = [services.user_signin(email=user.email, password=PASSWORD).tokens for _ in range(2)]
    feed = RevocationFeed(auth_grpc_target, poll_seconds=0.05, max_staleness=5.0, forget_after=600)
    assert not any(feed.is_revoked(t.session_id) for t in sessions)
    client.force_login(StaffUserFactory(is_superuser=True))
    try:
        # when: staff set a new password in the admin
        _admin_sets(client, user, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        # then: every session ended; the auth service refuses the tokens at once
        assert set(Session.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {"password_changed"}
        api = APIClient()
        for tokens in sessions:
            assert api.post("/v1/auth/validate", {"token": tokens.access_token}, format="json").json()["valid"] is False
            assert api.get("/v1/users", **bearer(tokens.access_token)).status_code == 401
            refreshed = api.post("/v1/auth/refresh", {"refresh_token": tokens.refresh_token}, format="json")
            assert refreshed.status_code == 401
        # and: the chat side's feed reports them within its delay
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not all(feed.is_revoked(t.session_id) for t in sessions):
            time.sleep(0.05)
        assert all(feed.is_revoked(t.session_id) for t in sessions)
        # and: the new password works, the old one does not
        assert services.user_signin(email=user.email, password=NEW_PASSWORD).tokens.access_token
    finally:
        feed.stop()


@pytest.mark.django_db
def test_disabling_password_sign_in_in_the_admin_ends_the_sessions_too(client):
    # given
    user = UserFactory()
    services.user_signin(email=user.email, password=PASSWORD)
    client.force_login(StaffUserFactory(is_superuser=True))
    # when: "password-based authentication: disabled"
    _admin_sets(client, user, {"usable_password": "false", "unset-password": "1"})
    # then
    assert not Session.objects.filter(user=user, revoked_at__isnull=True).exists()
