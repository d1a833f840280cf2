"""POST /v1/auth/validate."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db
URL = "/v1/auth/validate"


def test_valid_token(api, signed_in):
    # given
    user, tokens = signed_in
    # when
    response = api.post(URL, {"token": tokens.access_token}, format="json")
    # then
    assert response.status_code == 200
    assert response.json() == {"valid": True, "user_id": str(user.id), "error_message": ""}


@pytest.mark.parametrize("token", ["", "junk", "eyJhbGciOiJIUzI1NiJ9.e30.x"])
def test_invalid_token_is_200_not_valid(api, token):
    # when
    response = api.post(URL, {"token": token}, format="json")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert body["user_id"] == ""
    assert body["error_message"]
