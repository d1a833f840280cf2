"""REST ``GET /v1/chat/conversations/{id}/export?format=json|markdown``."""

from __future__ import annotations

import json
import re

import pytest

from shared_apps.chat import exports
from shared_apps.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)

SAFE_FILENAME = re.compile(r'attachment; filename="[a-z0-9-]+-[0-9a-f]{8}\.(json|md)"')


@pytest.fixture
def conversation(alice):
    conversation = Conversation.objects.create(user_id=alice.user_id, title='Trip "to"\r\nRome/../ été')
    asked = Message.objects.create(conversation=conversation, user_id=alice.user_id, role="user", content="Plan a trip")
    answered = Message.objects.create(
        conversation=conversation,
        user_id=alice.user_id,
        role="assistant",
        content="Day 1: Colosseum",
        model="m",
        parent=asked,
    )
    Message.objects.create(
        conversation=conversation,
        user_id=alice.user_id,
        role="assistant",
        content="Day",
        status="cancelled",
        parent=answered,
    )
    return conversation


def _url(conversation_id, fmt=None):
    query = f"?format={fmt}" if fmt is not None else ""
    return f"/v1/chat/conversations/{conversation_id}/export{query}"


def test_json_export_is_the_conversation_and_its_messages(api, alice, conversation):
    for fmt in ("json", None):  # json is the default
        response = api.get(_url(conversation.id, fmt), **alice.headers)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert SAFE_FILENAME.fullmatch(response["Content-Disposition"]), response["Content-Disposition"]
        assert response["Content-Disposition"].endswith('.json"')
        body = json.loads(response.content)
        listed = api.get(f"/v1/chat/conversations/{conversation.id}", **alice.headers).json()
        assert body["conversation"] == listed  # the same shape as the REST conversation
        messages = api.get(f"/v1/chat/conversations/{conversation.id}/messages", **alice.headers).json()["messages"]
        assert body["messages"] == messages  # the payload shape, oldest first
        assert [m["content"] for m in body["messages"]] == ["Plan a trip", "Day 1: Colosseum", "Day"]


def test_the_export_is_the_branch_shown(api, alice, conversation):
    # given a second answer to the first question, the branch shown then
    asked = Message.objects.get(conversation=conversation, role="user")
    Message.objects.create(
        conversation=conversation, user_id=alice.user_id, role="assistant", content="Rome in a day", parent=asked
    )
    # when
    body = json.loads(api.get(_url(conversation.id), **alice.headers).content)
    # then the export is that branch, as listed
    assert [m["content"] for m in body["messages"]] == ["Plan a trip", "Rome in a day"]
    assert len(body["messages"][1]["sibling_ids"]) == 2


def test_markdown_export_has_a_title_heading_and_each_message_with_its_role(api, alice, conversation):
    response = api.get(_url(conversation.id, "markdown"), **alice.headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"] == f'attachment; filename="trip-to-rome-ete-{str(conversation.id)[:8]}.md"'
    text = response.content.decode()
    assert text.splitlines()[0] == '# Trip "to" Rome/../ été'  # one line, whatever the title held
    assert text.index("## User\n\nPlan a trip") < text.index("## Assistant\n\nDay 1: Colosseum")
    assert "## Assistant (cancelled)\n\nDay" in text


def test_an_untitled_conversation_exports_with_a_default_title_and_filename(api, alice):
    conversation = Conversation.objects.create(user_id=alice.user_id, title="")
    response = api.get(_url(conversation.id, "markdown"), **alice.headers)
    assert response.content.decode() == f"# {exports.UNTITLED}\n"
    assert f'filename="conversation-{str(conversation.id)[:8]}.md"' in response["Content-Disposition"]


def test_bad_format_is_400(api, alice, conversation):
    for fmt in ("xml", "", "api"):
        response = api.get(_url(conversation.id, fmt) if fmt else _url(conversation.id) + "?format=", **alice.headers)
        if fmt == "":
            assert response.status_code == 200  # an empty format is the default
            continue
        assert response.status_code == 400, fmt
        assert response.json()["error"]["code"] == "invalid_argument"
        assert response.json()["error"]["message"].startswith("format:")


def test_another_users_conversation_is_404_and_a_malformed_id_400(api, alice, bob, conversation):
    response = api.get(_url(conversation.id, "markdown"), **bob.headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert "Content-Disposition" not in response
    assert api.get(_url("not-a-uuid", "json"), **alice.headers).status_code == 400
    assert api.get(_url(conversation.id, "json")).status_code == 401
