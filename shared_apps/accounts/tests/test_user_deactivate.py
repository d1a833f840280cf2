"""Deactivating a user ends all their sessions at once (service, admin action, admin save)."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from shared_apps.accounts import services
from shared_apps.accounts.models import Session, User
from shared_apps.accounts.tests.factories import PASSWORD
from shared_apps.authn.verify import access_token_verify
from shared_apps.core.errors import NotAuthenticated

pytestmark = pytest.mark.django_db


def _sessions(user, n=2):
    return [services.user_signin(email=user.email, password=PASSWORD).tokens for _ in range(n)]


def _assert_all_refused(all_tokens) -> None:
    for tokens in all_tokens:
        with pytest.raises(NotAuthenticated):
            access_token_verify(tokens.access_token)
        with pytest.raises(NotAuthenticated):
            services.session_refresh(refresh_token=tokens.refresh_token)


def test_user_deactivate_ends_every_session(user):
    # given
    all_tokens = _sessions(user)
    # when
    services.user_deactivate(user=user)
    # then
    assert not User.objects.get(id=user.id).is_active
    assert set(Session.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {
        Session.EndReason.USER_DEACTIVATED
    }
    _assert_all_refused(all_tokens)


def test_admin_action_deactivates(admin_client, user):
    # given
    all_tokens = _sessions(user)
    # when
    response = admin_client.post(
        "/admin/accounts/user/", {"action": "deactivate_users", "_selected_action": [str(user.id)], "index": 0}
    )
    # then
    assert response.status_code == 302
    assert not User.objects.get(id=user.id).is_active
    _assert_all_refused(all_tokens)


def test_admin_save_with_is_active_off_ends_sessions(admin_user, user):
    # given
    all_tokens = _sessions(user)
    model_admin = site._registry[User]
    request = RequestFactory().post("/admin/accounts/user/")
    request.user = admin_user
    user.is_active = False
    # when
    model_admin.save_model(request, user, form=None, change=True)
    # then
    assert Session.objects.filter(user=user, revoked_at__isnull=True).count() == 0
    _assert_all_refused(all_tokens)
