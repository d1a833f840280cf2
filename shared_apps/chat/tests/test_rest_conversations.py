"""REST: conversations CRUD, ownership and paging."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_list_get_rename_delete(api, alice):
    # given
    created = api.post("/v1/chat/conversations", {"title": "Trip"}, format="json", **alice.headers)
    assert created.status_code == 201, created.json()
    conversation_id = created.json()["id"]
    assert set(created.json()) == {"id", "title", "created_at", "updated_at"}
    # when / then
    listed = api.get("/v1/chat/conversations", **alice.headers).json()
    assert listed["total"] == 1 and listed["conversations"][0]["id"] == conversation_id
    got = api.get(f"/v1/chat/conversations/{conversation_id}", **alice.headers)
    assert got.json()["title"] == "Trip"
    renamed = api.patch(
        f"/v1/chat/conversations/{conversation_id}", {"title": "Voyage"}, format="json", **alice.headers
    )
    assert renamed.json()["title"] == "Voyage"
    assert api.delete(f"/v1/chat/conversations/{conversation_id}", **alice.headers).status_code == 204
    assert api.get(f"/v1/chat/conversations/{conversation_id}", **alice.headers).status_code == 404


def test_another_users_conversation_is_404_everywhere(api, alice, bob):
    conversation_id = api.post("/v1/chat/conversations", {}, format="json", **alice.headers).json()["id"]
    for method, path, body in [
        ("get", f"/v1/chat/conversations/{conversation_id}", None),
        ("patch", f"/v1/chat/conversations/{conversation_id}", {"title": "x"}),
        ("delete", f"/v1/chat/conversations/{conversation_id}", None),
        ("get", f"/v1/chat/conversations/{conversation_id}/messages", None),
        ("post", f"/v1/chat/conversations/{conversation_id}/messages", {"content": "hi"}),
        ("get", f"/v1/chat/history/{conversation_id}", None),
        ("post", "/v1/chat/message", {"message": "hi", "conversation_id": conversation_id}),
    ]:
        response = getattr(api, method)(path, body, format="json", **bob.headers)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "not_found"
    assert api.get(f"/v1/chat/conversations/{conversation_id}", **alice.headers).status_code == 200


def test_a_malformed_conversation_id_is_400_everywhere(api, alice, upstream):
    # given: an id that is no UUID (a well-formed id of another user's conversation is 404, above)
    bad = "not-a-uuid"
    for method, path, body in [
        ("get", f"/v1/chat/conversations/{bad}", None),
        ("patch", f"/v1/chat/conversations/{bad}", {"title": "x"}),
        ("delete", f"/v1/chat/conversations/{bad}", None),
        ("get", f"/v1/chat/conversations/{bad}/messages", None),
        ("post", f"/v1/chat/conversations/{bad}/messages", {"content": "hi"}),
        ("get", f"/v1/chat/history/{bad}", None),
        ("get", f"/v1/chat/stream/{bad}", None),
        ("post", "/v1/chat/message", {"message": "hi", "conversation_id": bad}),
        ("post", "/v1/chat/ai", {"message": "hi", "conversation_id": bad}),
    ]:
        # when
        response = getattr(api, method)(path, body, format="json", **alice.headers)
        # then: the seed's INVALID_ARGUMENT, as 400
        assert response.status_code == 400, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "invalid_argument"
        assert response.json()["error"]["details"] == {"conversation_id": ["Must be a valid UUID."]}
    assert upstream.chat_requests == []


def test_send_message_answers_200_like_the_seed(api, alice):
    # when
    response = api.post("/v1/chat/message", {"message": "note"}, format="json", **alice.headers)
    # then
    assert response.status_code == 200
    assert response.json()["is_ai_response"] is False and response.json()["message"]["content"] == "note"


def test_list_is_newest_activity_first_and_paged(api, alice):
    ids = [
        api.post("/v1/chat/conversations", {"title": str(i)}, format="json", **alice.headers).json()["id"]
        for i in range(3)
    ]
    api.post("/v1/chat/message", {"message": "bump", "conversation_id": ids[0]}, format="json", **alice.headers)
    page = api.get("/v1/chat/conversations?limit=2&offset=0", **alice.headers).json()
    assert page["total"] == 3
    assert [c["id"] for c in page["conversations"]] == [ids[0], ids[2]]
    rest = api.get("/v1/chat/conversations?limit=2&offset=2", **alice.headers).json()
    assert [c["id"] for c in rest["conversations"]] == [ids[1]]
    assert api.get("/v1/chat/conversations?limit=101", **alice.headers).status_code == 400
    assert api.get("/v1/chat/conversations?offset=-1", **alice.headers).status_code == 400


def test_every_endpoint_needs_a_token(api):
    for path in ["/v1/chat/conversations", "/v1/chat/history/x"]:
        response = api.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
    assert api.get("/v1/chat/conversations", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401


def test_health_endpoints(api):
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").json()["checks"]["database"] == "ok"
    assert api.get("/v1/health").json() == {"status": "SERVING"}
    assert api.get("/health").json() == {"status": "SERVING"}  # the seed's other path
    assert api.get("/v1/schema").status_code == 200
