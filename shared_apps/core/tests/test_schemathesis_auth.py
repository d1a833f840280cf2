"""Schemathesis over the auth service's OpenAPI schema (``/v1/schema``), in-process through the
WSGI handler, authenticated with a real bearer token of a staff user (so ``GET /v1/users``
reaches its 200 path). Run with ``--ds=auth_site.settings.test``.

No response may be a 5xx, and each must match the schema where the schema documents its
status code. Operations that end a session get a fresh session per call (signout's bearer
token; half of the refresh/revoke bodies carry a real fresh token, half are generated), so
the run's own token stays valid to the end, which the test checks."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from rest_framework.test import APIClient

from shared_apps.accounts.models import Session, User
from shared_apps.accounts.services import ClientInfo, session_open, user_create
from shared_apps.core.tests.schemathesis_run import run

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Tr0ub4dor&3-horse"
# The password, email and session operations take a token, an address or two passwords, and
# the two-factor and API key operations have tests of their own (shared_apps/accounts/tests):
# the quick run gives both groups fewer cases so it stays within its time; the slow one all.
SMALL_INPUT_PATHS = ("/password/", "/email/", "/sessions")
SECONDARY = ("/v1/auth/mfa/", "/v1/auth/signin/mfa", "/v1/auth/api-keys")


def _run(settings, examples: int, secondary_examples: int | None = None):
    settings.ALLOWED_HOSTS = ["*"]
    admin = user_create(name="Admin", email="schema-admin@example.com", password=PASSWORD).user
    User.objects.filter(id=admin.id).update(is_staff=True)
    own = session_open(user=admin, client=ClientInfo()).access_token

    def fresh():
        return session_open(user=admin, client=ClientInfo())

    def headers_for(operation):
        token = fresh().access_token if operation.path.endswith("/signout") else own
        return {"Authorization": f"Bearer {token}"}

    def prepare(case, draw):
        path = case.operation.path
        if not isinstance(case.body, dict) or not draw(st.booleans()):
            return
        if path.endswith("/refresh"):
            case.body["refresh_token"] = fresh().refresh_token
        elif path.endswith("/revoke"):
            case.body["access_token"] = fresh().access_token
        elif path.endswith("/validate"):
            case.body["token"] = own
        elif path.endswith("/signin"):
            case.body.update(email=admin.email, password=PASSWORD)

    def examples_for(operation):
        if secondary_examples is None:
            return None
        path = operation.path
        secondary = path.startswith(SECONDARY) or any(part in path for part in SMALL_INPUT_PATHS)
        return secondary_examples if secondary else None

    outcome = run(examples=examples, headers_for=headers_for, prepare=prepare, examples_for=examples_for)
    print(f"\nschemathesis auth: {outcome.summary()}")
    assert not outcome.failures, "\n".join(outcome.failures[:10])
    assert outcome.cases >= 7 * min(examples, 5)
    # the same in-process app still serves, and the run's own session survived
    response = APIClient().get("/v1/users", HTTP_AUTHORIZATION=f"Bearer {own}")
    assert response.status_code == 200, response.content
    assert Session.objects.filter(user=admin).count() >= 1
    return outcome


@pytest.mark.timeout(300)  # 21 operations; about 80 s alone, more on a loaded machine
def test_auth_schema_no_5xx_and_conforms(settings):
    _run(settings, examples=80, secondary_examples=12)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_auth_schema_no_5xx_and_conforms_many(settings):
    _run(settings, examples=600)
