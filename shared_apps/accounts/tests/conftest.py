from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from shared_apps.accounts import services
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def signed_in(user):
    """(user, tokens) for a fresh session."""
    return user, services.user_signin(email=user.email, password=PASSWORD).tokens


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}
