"""The admin for this issue: email_verified and live sessions on the user list, and actions that
end sessions, send reset and verification links, and mark addresses (through the services)."""

from __future__ import annotations

import pytest

from shared_apps.accounts import services
from shared_apps.accounts.models import Session, User
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.authn.verify import access_token_verify
from shared_apps.core.errors import NotAuthenticated

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-Brand-new-passphrase-42"


def _action(admin_client, action: str, users) -> None:
    response = admin_client.post(
        "/admin/accounts/user/", {"action": action, "_selected_action": [str(u.id) for u in users], "index": 0}
    )
    assert response.status_code == 302


def test_the_user_list_shows_and_filters_by_email_verified_and_counts_live_sessions(admin_client):
    # given
    verified = UserFactory(email="verified@example.com", email_verified=True)
    UserFactory(email="pending@example.com")
    for _ in range(2):
        services.user_signin(email=verified.email, password=PASSWORD)
    # when
    listing = admin_client.get("/admin/accounts/user/").content.decode()
    pending = admin_client.get("/admin/accounts/user/", {"email_verified__exact": "0"}).content.decode()
    # then
    assert "Email verified" in listing and "Live sessions" in listing
    assert '<td class="field-live_sessions">2</td>' in listing
    assert "pending@example.com" in pending and "verified@example.com" not in pending


def test_mark_verified_and_unverified(admin_client):
    # given
    users = [UserFactory(), UserFactory()]
    # when / then
    _action(admin_client, "mark_email_verified", users)
    assert all(User.objects.get(id=u.id).email_verified for u in users)
    _action(admin_client, "mark_email_unverified", users[:1])
    assert not User.objects.get(id=users[0].id).email_verified
    assert User.objects.get(id=users[1].id).email_verified


def test_end_every_session_of_a_user(admin_client, user):
    # given
    tokens = [services.user_signin(email=user.email, password=PASSWORD).tokens for _ in range(2)]
    # when
    _action(admin_client, "end_sessions", [user])
    # then
    assert set(Session.objects.filter(user=user).values_list("revoke_reason", flat=True)) == {"admin"}
    for t in tokens:
        with pytest.raises(NotAuthenticated):
            access_token_verify(t.access_token)


def test_send_a_password_reset_link(admin_client, user, smtp_inbox):
    # when
    _action(admin_client, "send_password_reset", [user])
    # then: the link works for the user
    services.password_reset_confirm(token=smtp_inbox.token_for(user.email), new_password=NEW_PASSWORD)
    assert User.objects.get(id=user.id).check_password(NEW_PASSWORD)


def test_send_a_verification_link(admin_client, user, smtp_inbox):
    # when
    _action(admin_client, "send_verification", [user])
    # then
    services.user_email_verify(token=smtp_inbox.token_for(user.email))
    assert User.objects.get(id=user.id).email_verified


def test_a_new_address_set_in_the_admin_is_not_verified(admin_client):
    # given
    user = UserFactory(email_verified=True)
    page = admin_client.get(f"/admin/accounts/user/{user.id}/change/")
    assert 'name="email_verified"' in page.content.decode()
    form = {
        "email": "moved@example.com",
        "email_verified": "on",  # as the form showed it
        "name": user.name,
        "is_active": "on",
        "sessions-TOTAL_FORMS": "0",
        "sessions-INITIAL_FORMS": "0",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
    }
    # when
    response = admin_client.post(f"/admin/accounts/user/{user.id}/change/", form)
    # then
    assert response.status_code == 302, response.content.decode()[:3000]
    moved = User.objects.get(id=user.id)
    assert (moved.email, moved.email_verified) == ("moved@example.com", False)
