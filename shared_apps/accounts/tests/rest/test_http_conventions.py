"""Conventions every endpoint follows: the error format, 413 for big bodies, X-Request-ID."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def _assert_error_format(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
@pytest.mark.parametrize("path", ["/v1/auth/signup", "/v1/auth/signin", "/v1/auth/refresh", "/v1/auth/validate"])
def test_oversized_body_is_413_with_the_error_format(api, path):
    # given
    body = json.dumps({"email": "a@example.com", "password": "x" * 4096, "token": "x" * 4096})
    # when
    response = api.post(path, body, content_type="application/json")
    # then
    _assert_error_format(response, 413, "payload_too_large")


def test_malformed_json_is_400(api):
    # when
    response = api.post("/v1/auth/signin", "{not json", content_type="application/json")
    # then
    _assert_error_format(response, 400, "invalid_argument")


def test_wrong_media_type_is_415(api):
    # when
    response = api.post("/v1/auth/signin", "email=a", content_type="application/x-www-form-urlencoded")
    # then
    _assert_error_format(response, 415, "unsupported_media_type")


def test_wrong_method_is_405(api):
    # when
    response = api.get("/v1/auth/signin")
    # then
    _assert_error_format(response, 405, "method_not_allowed")


def test_unknown_path_is_404(api):
    # when
    response = api.get("/v1/nowhere")
    # then
    _assert_error_format(response, 404, "not_found")


def test_validation_error_format(api):
    # when
    response = api.post("/v1/auth/signup", {}, format="json")
    # then
    _assert_error_format(response, 400, "invalid_argument")
    assert {"email", "password"} <= set(response.json()["error"]["details"])


def test_given_request_id_is_echoed(api):
    # when
    response = api.get("/healthz", HTTP_X_REQUEST_ID="req-abc-123")
    # then
    assert response["X-Request-ID"] == "req-abc-123"


@pytest.mark.parametrize("path", ["/healthz", "/v1/auth/signin", "/v1/nowhere"])
def test_request_id_is_generated_when_absent(api, path):
    # when
    response = api.get(path)
    # then
    uuid.UUID(response["X-Request-ID"])


def test_malformed_request_id_is_replaced(api):
    # when
    response = api.get("/healthz", HTTP_X_REQUEST_ID="bad id\twith spaces" + "x" * 200)
    # then
    uuid.UUID(response["X-Request-ID"])
