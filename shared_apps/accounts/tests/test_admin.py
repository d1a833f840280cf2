"""Admin screens: user search, session list, the revoke action, createsuperuser."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from shared_apps.accounts import services
from shared_apps.accounts.models import Session, User
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.authn.verify import access_token_verify
from shared_apps.core.errors import NotAuthenticated

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query, field", [("findme@", "email"), ("Zebulon", "name")])
def test_user_changelist_search(admin_client, query, field):
    # given
    UserFactory(email="findme@example.com", name="Zebulon Quux")
    UserFactory(email="other@example.com", name="Other Person")
    # when
    response = admin_client.get("/admin/accounts/user/", {"q": query})
    # then
    assert response.status_code == 200
    content = response.content.decode()
    assert "findme@example.com" in content
    assert "other@example.com" not in content


def test_user_change_page_shows_sessions(admin_client, signed_in):
    # given
    user, tokens = signed_in
    # when
    response = admin_client.get(f"/admin/accounts/user/{user.id}/change/")
    # then
    assert response.status_code == 200
    assert str(tokens.session_id) in response.content.decode()


def test_sessions_list(admin_client, signed_in):
    # given
    user, tokens = signed_in
    # when
    response = admin_client.get("/admin/accounts/session/")
    # then
    assert response.status_code == 200
    assert str(tokens.session_id) in response.content.decode()
    assert user.email in response.content.decode()


def test_revoke_action_ends_the_sessions(admin_client, user):
    # given
    revoked, kept = (services.user_signin(email=user.email, password=PASSWORD).tokens for _ in "ab")
    # when
    response = admin_client.post(
        "/admin/accounts/session/",
        {"action": "revoke_sessions", "_selected_action": [str(revoked.session_id)], "index": 0},
    )
    # then
    assert response.status_code == 302
    assert Session.objects.get(id=revoked.session_id).revoke_reason == Session.EndReason.ADMIN
    with pytest.raises(NotAuthenticated):
        access_token_verify(revoked.access_token)
    assert access_token_verify(kept.access_token).session_id == kept.session_id


def test_createsuperuser_noinput_from_environment(monkeypatch):
    # given
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Root@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    # when
    call_command("createsuperuser", "--noinput", verbosity=0)
    # then
    root = User.objects.get(email="root@example.com")
    assert root.is_staff and root.is_superuser and root.is_active
    assert root.check_password(PASSWORD)
