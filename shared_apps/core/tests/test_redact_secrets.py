"""``redact_secrets`` masks passwords, tokens and Authorization headers in log events."""

from __future__ import annotations

from shared_apps.core.logging import MASK, redact_secrets

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_secret_keys_are_masked():
    # when
    event = redact_secrets(
        None,
        "info",
        {
            "event": "x",
            "password": "hunter2",
            "refresh_token": "r",
            "Authorization": "Bearer abc",
            "api_key": "k",
            "token_type": "Bearer",
            "email": "a@example.com",
        },
    )
    # then
    assert event["password"] == event["refresh_token"] == event["Authorization"] == event["api_key"] == MASK
    assert event["token_type"] == "Bearer"
    assert event["email"] == "a@example.com"


def test_tokens_inside_strings_and_nested_values_are_masked():
    # when
    event = redact_secrets(
        None,
        "info",
        {
            "event": f"got {JWT} from client",
            "headers": {"X-Other": f"Bearer {JWT}", "nested": [{"secret": "s"}, f"x {JWT}"]},
            "line": "Authorization: Bearer opaque-token-123",
        },
    )
    # then
    flat = repr(event)
    assert JWT not in flat
    assert "opaque-token-123" not in flat
    assert "'secret': 's'" not in flat
    assert event["event"] == f"got {MASK} from client"


def test_api_keys_inside_strings_are_masked():
    # given
    key = "cak_" + "Ab3" * 16
    # when
    event = redact_secrets(None, "info", {"event": f"client sent {key} in a body", "note": [f"x{key}"]})
    # then
    assert key not in str(event) and key[4:20] not in str(event)
    assert event["event"] == f"client sent {MASK} in a body"
