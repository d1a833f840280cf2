"""Branches over REST, the websocket and gRPC: regenerate a reply, edit a user message, choose the branch shown; what
the model is sent for each (the fake upstream records it), bad input and other users' ids."""

from __future__ import annotations

import json

import grpc
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat_site.asgi import application
from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat.models import Message
from testkit.fake_openai import reply

pytestmark = pytest.mark.django_db(transaction=True)


def _exchange(api, who, upstream, content: str, answer: str, conversation_id: str | None = None) -> dict:
    upstream.enqueue(reply([answer]))
    if conversation_id is None:
        conversation_id = api.post("/v1/chat/conversations", {"title": "t"}, format="json", **who.headers).json()["id"]
    response = api.post(
        f"/v1/chat/conversations/{conversation_id}/messages", {"content": content}, format="json", **who.headers
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _shown(api, who, conversation_id: str) -> list[tuple[str, str]]:
    response = api.get(f"/v1/chat/conversations/{conversation_id}/messages", **who.headers)
    assert response.status_code == 200, response.json()
    return [(m["role"], m["content"]) for m in response.json()["messages"]]


@pytest.fixture
def two_turns(api, alice, upstream) -> tuple[str, dict, dict]:
    """A conversation of two answered questions."""
    first = _exchange(api, alice, upstream, "Capital of France?", "Paris.")
    conversation_id = first["user_message"]["conversation_id"]
    second = _exchange(api, alice, upstream, "And of Italy?", "Rome.", conversation_id)
    return conversation_id, first, second


def test_regenerate_makes_a_second_reply_beside_the_first_and_shows_it(api, alice, upstream, two_turns):
    # given
    conversation_id, first, _second = two_turns
    upstream.reset()
    upstream.enqueue(reply(["It", " is", " Paris!"]))
    old_reply = first["assistant_message"]
    # when the first reply is regenerated
    response = api.post(f"/v1/chat/messages/{old_reply['id']}/regenerate", {}, format="json", **alice.headers)
    # then a new reply to the same question is stored beside the old one
    assert response.status_code == 201, response.json()
    new_reply = response.json()["assistant_message"]
    assert new_reply["content"] == "It is Paris!" and new_reply["status"] == "complete"
    assert new_reply["parent_id"] == first["user_message"]["id"] == old_reply["parent_id"]
    assert new_reply["sibling_ids"] == [old_reply["id"], new_reply["id"]]
    assert Message.objects.get(id=old_reply["id"]).content == "Paris."
    # and the model saw only the path to the question, never the later turn
    assert upstream.chat_requests[0].json["messages"] == [{"role": "user", "content": "Capital of France?"}]
    # and the conversation now shows the new branch, which ends at the new reply
    assert _shown(api, alice, conversation_id) == [("user", "Capital of France?"), ("assistant", "It is Paris!")]
    listed = api.get(f"/v1/chat/conversations/{conversation_id}/messages", **alice.headers).json()["messages"]
    assert listed[1]["sibling_ids"] == [old_reply["id"], new_reply["id"]] and listed[0]["parent_id"] is None


def test_the_stored_stream_shows_each_messages_siblings(api, alice, upstream, two_turns):
    # given the first reply regenerated
    conversation_id, first, _second = two_turns
    upstream.enqueue(reply(["It is Paris!"]))
    new_reply = api.post(
        f"/v1/chat/messages/{first['assistant_message']['id']}/regenerate", {}, format="json", **alice.headers
    ).json()["assistant_message"]
    # when the seed's stream route reads the stored messages (every branch)
    response = api.get(f"/v1/chat/stream/{conversation_id}", **alice.headers)
    # then both replies name each other as siblings
    frames = [json.loads(line)["result"] for line in response.content.splitlines()]
    siblings = {f["message"]["id"]: f["message"]["sibling_ids"] for f in frames if f["message"]}
    both = [first["assistant_message"]["id"], new_reply["id"]]
    assert siblings[both[0]] == siblings[both[1]] == both


def test_edit_makes_a_new_question_beside_the_old_one_with_its_own_reply(api, alice, upstream, two_turns):
    # given
    conversation_id, first, second = two_turns
    upstream.reset()
    upstream.enqueue(reply(["Madrid."]))
    asked = second["user_message"]
    # when the second question is edited
    response = api.post(
        f"/v1/chat/messages/{asked['id']}/edit", {"content": "And of Spain?"}, format="json", **alice.headers
    )
    # then a new user message sits beside the old one (the same parent), with its reply
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["user_message"]["content"] == "And of Spain?"
    assert body["user_message"]["parent_id"] == asked["parent_id"] == first["assistant_message"]["id"]
    assert body["user_message"]["sibling_ids"] == [asked["id"], body["user_message"]["id"]]
    assert body["assistant_message"]["content"] == "Madrid."
    assert body["assistant_message"]["parent_id"] == body["user_message"]["id"]
    # and the model saw the path to the parent, then the edited question (not the old one)
    assert upstream.chat_requests[0].json["messages"] == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Spain?"},
    ]
    assert _shown(api, alice, conversation_id) == [
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
        ("user", "And of Spain?"),
        ("assistant", "Madrid."),
    ]


def test_a_chosen_branch_is_shown_and_the_next_message_continues_it(api, alice, upstream, two_turns):
    # given the second question edited (the conversation shows the edit's branch)
    conversation_id, _first, second = two_turns
    upstream.enqueue(reply(["Madrid."]))
    api.post(
        f"/v1/chat/messages/{second['user_message']['id']}/edit",
        {"content": "And of Spain?"},
        format="json",
        **alice.headers,
    )
    # when the old branch is chosen again
    response = api.put(
        f"/v1/chat/conversations/{conversation_id}/branch",
        {"leaf_message_id": second["assistant_message"]["id"]},
        format="json",
        **alice.headers,
    )
    # then it is shown
    assert response.status_code == 200, response.json()
    assert response.json() == {"conversation_id": conversation_id, "leaf_message_id": second["assistant_message"]["id"]}
    assert _shown(api, alice, conversation_id)[-2:] == [("user", "And of Italy?"), ("assistant", "Rome.")]
    # and a new message follows it: the model sees that branch only
    upstream.reset()
    _exchange(api, alice, upstream, "Population?", "59M.", conversation_id)
    assert upstream.chat_requests[0].json["messages"] == [
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"},
        {"role": "assistant", "content": "Rome."},
        {"role": "user", "content": "Population?"},
    ]


def test_choosing_a_message_inside_a_branch_shows_the_newest_leaf_below_it(api, alice, upstream, two_turns):
    # given the first reply regenerated (its branch is shown)
    conversation_id, first, _second = two_turns
    upstream.enqueue(reply(["It is Paris!"]))
    api.post(f"/v1/chat/messages/{first['assistant_message']['id']}/regenerate", {}, format="json", **alice.headers)
    # when the old first reply (not a leaf: the second turn follows it) is chosen
    response = api.put(
        f"/v1/chat/conversations/{conversation_id}/branch",
        {"leaf_message_id": first["assistant_message"]["id"]},
        format="json",
        **alice.headers,
    )
    # then its branch is shown to its end
    assert response.status_code == 200, response.json()
    assert [content for _role, content in _shown(api, alice, conversation_id)] == [
        "Capital of France?",
        "Paris.",
        "And of Italy?",
        "Rome.",
    ]


def test_regenerate_and_edit_are_idempotent_with_client_message_id(api, alice, upstream, two_turns):
    # given
    _conversation_id, first, second = two_turns
    upstream.reset()
    upstream.enqueue(reply(["Again."]), reply(["Edited."]))
    regenerate = f"/v1/chat/messages/{first['assistant_message']['id']}/regenerate"
    edit = f"/v1/chat/messages/{second['user_message']['id']}/edit"
    # when each is sent twice with the same id
    regenerated = [api.post(regenerate, {"client_message_id": "r1"}, format="json", **alice.headers) for _ in "ab"]
    edited = [
        api.post(edit, {"content": "Spain?", "client_message_id": "e1"}, format="json", **alice.headers) for _ in "ab"
    ]
    # then the repeats answer the first result, with no second model call
    assert [r.status_code for r in regenerated + edited] == [201, 201, 201, 201]
    assert regenerated[0].json()["assistant_message"]["id"] == regenerated[1].json()["assistant_message"]["id"]
    assert edited[0].json()["user_message"]["id"] == edited[1].json()["user_message"]["id"]
    assert edited[0].json()["assistant_message"]["id"] == edited[1].json()["assistant_message"]["id"]
    assert len(upstream.chat_requests) == 2


@pytest.mark.parametrize(
    ("action", "body", "message"),
    [
        ("regenerate", {}, "message_id: Only a reply"),
        ("edit", {"content": "x"}, "message_id: Only a user message"),
        ("edit", {"content": "   "}, "content: The message is empty."),
        ("edit", {"content": "x" * 40_001}, "content: At most"),
    ],
    ids=["regenerate-a-user-message", "edit-a-reply", "empty-edit", "oversized-edit"],
)
def test_bad_regenerate_or_edit_is_400_and_stores_nothing(api, alice, upstream, two_turns, action, body, message):
    # given
    _conversation_id, first, _second = two_turns
    target = first["assistant_message"] if message.startswith("message_id: Only a user") else first["user_message"]
    before = Message.objects.count()
    upstream.reset()
    # when
    response = api.post(f"/v1/chat/messages/{target['id']}/{action}", body, format="json", **alice.headers)
    # then
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["message"].startswith(message)
    assert Message.objects.count() == before and upstream.chat_requests == []


def test_a_leaf_of_another_conversation_is_400_and_changes_nothing(api, alice, upstream, two_turns):
    # given
    conversation_id, _first, _second = two_turns
    other = _exchange(api, alice, upstream, "Elsewhere", "Yes.")
    before = _shown(api, alice, conversation_id)
    # when
    response = api.put(
        f"/v1/chat/conversations/{conversation_id}/branch",
        {"leaf_message_id": other["assistant_message"]["id"]},
        format="json",
        **alice.headers,
    )
    # then
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("leaf_message_id:")
    assert _shown(api, alice, conversation_id) == before


def test_another_users_messages_and_conversations_are_404(api, alice, bob, upstream, two_turns):
    # given
    conversation_id, first, _second = two_turns
    before = Message.objects.count()
    # when bob tries alice's ids
    responses = [
        api.post(f"/v1/chat/messages/{first['assistant_message']['id']}/regenerate", {}, format="json", **bob.headers),
        api.post(
            f"/v1/chat/messages/{first['user_message']['id']}/edit", {"content": "x"}, format="json", **bob.headers
        ),
        api.put(
            f"/v1/chat/conversations/{conversation_id}/branch",
            {"leaf_message_id": first["assistant_message"]["id"]},
            format="json",
            **bob.headers,
        ),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert Message.objects.count() == before


# --- the websocket ----------------------------------------------------------------------------------


def _socket(who) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {who.access}".encode())]
    )


async def _frames_until_end(ws) -> list[dict]:
    frames = []
    while not frames or frames[-1]["type"] not in ("done", "error"):
        frames.append(json.loads(await ws.receive_from(timeout=5)))
    return frames


async def test_regenerate_and_edit_frames_stream_like_a_message(alice, upstream):
    # given an answered question, over the websocket
    upstream.enqueue(reply(["Paris."]), reply(["It", " is", " Paris!"]), reply(["Madrid."]))
    ws = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {alice.access}".encode())]
    )
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "Capital of France?"})
    ack, _start, *_deltas, done = await _frames_until_end(ws)
    old_reply = done["message"]
    # when the reply is regenerated
    await ws.send_json_to({"type": "regenerate", "message_id": old_reply["id"]})
    regenerated = await _frames_until_end(ws)
    # then it streams like a message: ack (the question answered), start, deltas, done
    assert [f["type"] for f in regenerated] == ["ack", "start", "delta", "delta", "delta", "done"]
    assert regenerated[0]["user_message"]["id"] == ack["user_message"]["id"]
    new_reply = regenerated[-1]["message"]
    assert new_reply["content"] == "It is Paris!" and new_reply["id"] == regenerated[1]["message_id"]
    assert new_reply["sibling_ids"] == [old_reply["id"], new_reply["id"]]
    # when the question is edited
    await ws.send_json_to({"type": "edit", "message_id": ack["user_message"]["id"], "content": "Capital of Spain?"})
    edited = await _frames_until_end(ws)
    # then the new question sits beside the old one, and its reply streams
    assert [f["type"] for f in edited] == ["ack", "start", "delta", "done"]
    assert edited[0]["user_message"]["sibling_ids"] == [ack["user_message"]["id"], edited[0]["user_message"]["id"]]
    assert edited[-1]["message"]["content"] == "Madrid."
    assert [r.json["messages"] for r in upstream.chat_requests[1:]] == [
        [{"role": "user", "content": "Capital of France?"}],
        [{"role": "user", "content": "Capital of Spain?"}],
    ]
    await ws.disconnect()


async def test_bad_regenerate_and_edit_frames_get_error_frames_naming_the_problem(alice, upstream):
    # given an answered question
    upstream.enqueue(reply(["Paris."]))
    ws = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {alice.access}".encode())]
    )
    await ws.connect()
    await ws.send_json_to({"type": "message", "content": "Capital of France?"})
    ack, *_rest, done = await _frames_until_end(ws)
    count = await database_sync_to_async(Message.objects.count)()
    # when
    sent = [
        ({"type": "regenerate", "message_id": ack["user_message"]["id"]}, "message_id: Only a reply"),
        ({"type": "edit", "message_id": done["message"]["id"], "content": "x"}, "message_id: Only a user message"),
        ({"type": "edit", "message_id": ack["user_message"]["id"], "content": ""}, "content: The message is empty."),
        ({"type": "edit", "message_id": ack["user_message"]["id"]}, "'content' must be a string."),
        ({"type": "regenerate"}, "'message_id' must be a string."),
    ]
    answers = []
    for frame, _message in sent:
        await ws.send_json_to(frame)
        answers.append(json.loads(await ws.receive_from(timeout=5)))
    # then each is an error frame naming the problem, and nothing is stored
    for answer, (_frame, message) in zip(answers, sent, strict=True):
        assert answer["type"] == "error" and answer["message"].startswith(message), answer
    assert await database_sync_to_async(Message.objects.count)() == count
    await ws.disconnect()


# --- gRPC -------------------------------------------------------------------------------------------


def test_grpc_regenerate_edit_and_select_branch(grpc_channel, api, alice, bob, upstream):
    # given an answered question
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    first = _exchange(api, alice, upstream, "Capital of France?", "Paris.")
    conversation_id = first["user_message"]["conversation_id"]
    upstream.enqueue(reply(["It is Paris!"]), reply(["Madrid."]))
    # when the reply is regenerated, then the question edited
    regenerated = list(
        chat.RegenerateReply(
            chat_pb2.RegenerateReplyRequest(message_id=first["assistant_message"]["id"]), metadata=alice.metadata
        )
    )
    edited = list(
        chat.EditMessage(
            chat_pb2.EditMessageRequest(message_id=first["user_message"]["id"], content="Capital of Spain?"),
            metadata=alice.metadata,
        )
    )
    # then both stream ack, start, deltas, done
    assert [e.WhichOneof("event") for e in regenerated] == ["ack", "start", "delta", "done"]
    done = regenerated[-1].done.message
    assert done.content == "It is Paris!" and done.parent_id == first["user_message"]["id"]
    assert list(done.sibling_ids) == [first["assistant_message"]["id"], done.id]
    assert edited[0].ack.user_message.content == "Capital of Spain?" and edited[-1].done.message.content == "Madrid."
    assert list(edited[0].ack.user_message.sibling_ids) == [first["user_message"]["id"], edited[0].ack.user_message.id]
    # when the first branch is selected again
    selected = chat.SelectBranch(
        chat_pb2.SelectBranchRequest(conversation_id=conversation_id, leaf_message_id=first["user_message"]["id"]),
        metadata=alice.metadata,
    )
    # then the history is that branch, to its newest leaf (the regenerated reply)
    history = chat.GetHistory(chat_pb2.GetHistoryRequest(conversation_id=conversation_id), metadata=alice.metadata)
    assert selected.leaf_message_id == done.id
    assert [m.content for m in history.messages] == ["Capital of France?", "It is Paris!"]
    # and bad input or another user's ids are refused
    for call, request, who, code in [
        (chat.RegenerateReply, chat_pb2.RegenerateReplyRequest(message_id=first["user_message"]["id"]), alice, "IA"),
        (chat.EditMessage, chat_pb2.EditMessageRequest(message_id=done.id, content="x"), alice, "IA"),
        (chat.EditMessage, chat_pb2.EditMessageRequest(message_id=first["user_message"]["id"]), alice, "IA"),
        (chat.RegenerateReply, chat_pb2.RegenerateReplyRequest(message_id=done.id), bob, "NF"),
    ]:
        with pytest.raises(grpc.RpcError) as exc:
            list(call(request, metadata=who.metadata))
        expected = grpc.StatusCode.INVALID_ARGUMENT if code == "IA" else grpc.StatusCode.NOT_FOUND
        assert exc.value.code() == expected
    with pytest.raises(grpc.RpcError) as exc:
        chat.SelectBranch(
            chat_pb2.SelectBranchRequest(conversation_id=conversation_id, leaf_message_id=done.id),
            metadata=bob.metadata,
        )
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
