"""Search of the caller's titles and message contents: REST ``GET /v1/chat/search`` and gRPC
``SearchConversations``; full-text on PostgreSQL (behind its GIN index), contains on SQLite."""

from __future__ import annotations

import grpc
import pytest
from django.db import connection

from protos import chat_pb2, chat_pb2_grpc
from shared_apps.chat import search
from shared_apps.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="full-text search is PostgreSQL's")


@pytest.fixture
def corpus(alice, bob):
    trip = Conversation.objects.create(user_id=alice.user_id, title="Volcano trip")
    Message.objects.create(conversation=trip, user_id=alice.user_id, role="user", content="Which volcano to climb?")
    Message.objects.create(
        conversation=trip, user_id=alice.user_id, role="assistant", content="Etna is an active volcano in Sicily."
    )
    cooking = Conversation.objects.create(user_id=alice.user_id, title="Cooking")
    Message.objects.create(conversation=cooking, user_id=alice.user_id, role="user", content="A pasta recipe please")
    secret = Conversation.objects.create(user_id=bob.user_id, title="Bob's volcano secrets")
    Message.objects.create(conversation=secret, user_id=bob.user_id, role="user", content="my volcano password")
    return {"trip": trip, "cooking": cooking, "secret": secret}


def test_rest_finds_titles_and_messages_of_the_caller_only(api, alice, corpus):
    response = api.get("/v1/chat/search", {"q": "volcano"}, **alice.headers)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == 3  # the title and two messages; never bob's
    assert {r["conversation"]["id"] for r in body["results"]} == {str(corpus["trip"].id)}
    assert set(body["results"][0]) == {"conversation", "message_id", "snippet"}
    assert set(body["results"][0]["conversation"]) == {"id", "title", "created_at", "updated_at"}
    message_ids = {r["message_id"] for r in body["results"]}
    assert None in message_ids  # the title hit
    assert all("volcano" in r["snippet"].lower() for r in body["results"])
    assert all("**" in r["snippet"] for r in body["results"])  # the match is marked
    assert "secret" not in response.content.decode() and "password" not in response.content.decode()


def test_other_users_content_never_appears(api, alice, bob, corpus):
    for q in ("password", "secrets", "Bob"):
        body = api.get("/v1/chat/search", {"q": q}, **alice.headers).json()
        assert body == {"results": [], "total": 0}, q
    assert api.get("/v1/chat/search", {"q": "password"}, **bob.headers).json()["total"] == 1


def test_paging_keeps_the_total_and_walks_the_results(api, alice, corpus):
    everything = api.get("/v1/chat/search", {"q": "volcano"}, **alice.headers).json()["results"]
    pages = [
        api.get("/v1/chat/search", {"q": "volcano", "limit": 1, "offset": i}, **alice.headers).json() for i in range(4)
    ]
    assert [p["total"] for p in pages] == [3, 3, 3, 3]
    assert [r for p in pages for r in p["results"]] == everything
    assert api.get("/v1/chat/search", {"q": "volcano", "limit": 1000}, **alice.headers).status_code == 400


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("", "q: Must not be empty."),
        ("   ", "q: Must not be empty."),
        ("x" * 10_000, "q: At most"),
        ('- "" or ( )', "q: Must contain a word"),
    ],
)
def test_bad_queries_are_400_naming_the_problem(api, alice, q, expected):
    response = api.get("/v1/chat/search", {"q": q}, **alice.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_argument"
    assert response.json()["error"]["message"].startswith(expected)


def test_grpc_search_and_its_errors(grpc_channel, alice, corpus):
    chat = chat_pb2_grpc.ChatServiceStub(grpc_channel)
    answer = chat.SearchConversations(
        chat_pb2.SearchConversationsRequest(q="pasta"), metadata=alice.metadata, timeout=5
    )
    assert answer.total == 1
    hit = answer.results[0]
    assert hit.conversation.id == str(corpus["cooking"].id) and hit.conversation.title == "Cooking"
    assert hit.message_id == str(Message.objects.get(content__startswith="A pasta").id) and "pasta" in hit.snippet
    title_hit = chat.SearchConversations(chat_pb2.SearchConversationsRequest(q="cooking"), metadata=alice.metadata)
    assert title_hit.total == 1 and title_hit.results[0].message_id == ""
    for q in ("", "y" * 10_000, "-"):
        with pytest.raises(grpc.RpcError) as exc:
            chat.SearchConversations(chat_pb2.SearchConversationsRequest(q=q), metadata=alice.metadata, timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and exc.value.details().startswith("q: ")


@postgres_only
def test_postgres_full_text_ranks_and_understands_websearch_syntax(api, alice, corpus):
    # stemming: "climbing" finds "climb"; exclusion: -etna drops the reply
    body = api.get("/v1/chat/search", {"q": "climbing volcanoes"}, **alice.headers).json()
    assert body["total"] == 1 and "climb" in body["results"][0]["snippet"]
    body = api.get("/v1/chat/search", {"q": "volcano -etna"}, **alice.headers).json()
    assert body["total"] == 2
    body = api.get("/v1/chat/search", {"q": "pasta or sicily"}, **alice.headers).json()
    assert body["total"] == 2


@postgres_only
def test_postgres_search_uses_the_gin_indexes(alice, corpus):
    # given: enough of the caller's rows that reading them all costs more than the index
    filler = Conversation.objects.create(user_id=alice.user_id, title="filler")
    Message.objects.bulk_create(
        Message(conversation=filler, user_id=alice.user_id, role="user", content=f"ordinary words number {i}")
        for i in range(3000)
    )
    Conversation.objects.bulk_create(Conversation(user_id=alice.user_id, title=f"chat {i}") for i in range(3000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chat_message")
        cursor.execute("ANALYZE chat_conversation")
    # when: the search's own match queries are planned
    query = search.websearch_query("volcano")
    messages_plan = search.message_matches(alice.user_id, query).explain()
    titles_plan = search.title_matches(alice.user_id, query).explain()
    # then
    assert "chat_msg_content_fts_idx" in messages_plan, messages_plan
    assert "chat_conv_title_fts_idx" in titles_plan, titles_plan
