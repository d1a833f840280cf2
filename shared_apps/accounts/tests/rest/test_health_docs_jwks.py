"""/healthz, /readyz, /health and /v1/health, /v1/schema, /v1/docs and /.well-known/jwks.json."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings

from shared_apps.authn.keys import build_keyring

pytestmark = pytest.mark.django_db

AUTH_PATHS = [
    "/v1/auth/signup",
    "/v1/auth/signin",
    "/v1/auth/signout",
    "/v1/auth/refresh",
    "/v1/auth/revoke",
    "/v1/auth/validate",
    "/v1/users",
]


def test_healthz(api):
    # when
    response = api.get("/healthz")
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_dependencies(api, settings):
    # when
    response = api.get("/readyz")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert ("redis" in body["checks"]) == bool(settings.REDIS_URL)


def test_readyz_is_503_when_redis_is_down(api, settings):
    # given
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    # when
    response = api.get("/readyz")
    # then
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] != "ok"
    assert api.get("/v1/health").json() == {"status": "NOT_SERVING"}


@pytest.mark.parametrize("path", ["/health", "/v1/health"])
def test_seed_health(api, path):
    # when: the seed's health route, at both of its paths
    response = api.get(path)
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "SERVING"}


def test_schema_is_valid_openapi_listing_every_endpoint(api):
    # when
    response = api.get("/v1/schema", {"format": "json"})
    # then
    assert response.status_code == 200
    schema = response.json()
    from drf_spectacular.validation import validate_schema

    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert set(AUTH_PATHS) <= set(schema["paths"])
    assert "bearerAuth" in schema["components"]["securitySchemes"]


def test_docs_page(api):
    # when
    response = api.get("/v1/docs")
    # then
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_jwks_is_empty_for_hs256(api):
    # when
    response = api.get("/.well-known/jwks.json")
    # then
    assert response.status_code == 200
    assert response.json() == {"keys": []}


def test_jwks_lists_the_rs256_public_key_with_its_kid(api):
    # given
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    keyring = build_keyring(algorithm="RS256", signing_key=pem)
    # when
    with override_settings(JWT_KEYRING=keyring, JWT_ALGORITHM="RS256"):
        response = api.get("/.well-known/jwks.json")
    # then
    keys = response.json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kid"] == keyring.signing_kid
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    numbers = private.public_key().public_numbers()
    import base64

    n = int.from_bytes(base64.urlsafe_b64decode(keys[0]["n"] + "=="), "big")
    assert n == numbers.n
    assert "d" not in keys[0] and "p" not in keys[0]


@pytest.mark.parametrize(
    "path, fields",
    [
        ("/v1/auth/signup", {"name", "email", "password"}),
        ("/v1/auth/signin", {"email", "password"}),
        ("/v1/auth/refresh", {"refresh_token"}),
        ("/v1/auth/revoke", {"access_token"}),
        ("/v1/auth/validate", {"token"}),
    ],
)
def test_schema_request_bodies_are_each_endpoints_own(api, path, fields):
    # given
    schema = api.get("/v1/schema", {"format": "json"}).json()
    ref = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    # when
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    # then
    assert set(component["properties"]) == fields


def test_schema_generation_has_no_warnings(capsys):
    # given
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    # when
    SchemaGenerator().get_schema(request=None, public=True)
    # then
    assert not GENERATOR_STATS, capsys.readouterr().err
