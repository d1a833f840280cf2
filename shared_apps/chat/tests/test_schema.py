"""The chat service's OpenAPI schema is valid and unambiguous."""

from __future__ import annotations

import io

from django.core.management import call_command


def test_schema_validates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = out.getvalue()
    for path in ("/v1/chat/conversations", "/v1/chat/ai", "/v1/chat/history/{conversation_id}"):
        assert path in schema
