"""Fixtures of the auth service's tests: API clients, users, signed-in sessions, gRPC stubs."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from protos import auth_pb2_grpc
from shared_apps.accounts import services
from shared_apps.accounts.tests.factories import PASSWORD, StaffUserFactory, UserFactory


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def staff(db):
    return StaffUserFactory()


@pytest.fixture
def signed_in(user):
    """(user, tokens) for a fresh session."""
    return user, services.user_signin(email=user.email, password=PASSWORD).tokens


@pytest.fixture
def staff_tokens(staff):
    return services.user_signin(email=staff.email, password=PASSWORD).tokens


@pytest.fixture
def auth_stub(grpc_channel) -> auth_pb2_grpc.AuthServiceStub:
    return auth_pb2_grpc.AuthServiceStub(grpc_channel)


@pytest.fixture
def auth_grpc_target(transactional_db):
    """The address of a real gRPC server of this site on loopback, for clients that dial
    it themselves (the chat side's revocation-feed client)."""
    from shared_apps.core.grpc_server.server import build_server
    from testkit.processes import free_port

    server, state = build_server(max_workers=8)
    port = server.add_insecure_port(f"127.0.0.1:{free_port()}")
    server.start()
    state.set_serving(True)
    yield f"127.0.0.1:{port}"
    server.stop(0).wait()


@pytest.fixture
def smtp_inbox(settings):
    """A real SMTP server on loopback, and the site's email settings pointed at it
    (as ``EMAIL_URL=smtp://127.0.0.1:<port>`` would)."""
    from shared_apps.accounts.tests.mailbox import smtp_server_start
    from testkit.processes import free_port

    controller, inbox = smtp_server_start(free_port())
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield inbox
    controller.stop()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def bearer_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def service_metadata() -> tuple[tuple[str, str], ...]:
    """The chat service's credential, as its revocation-feed client sends it."""
    from shared_apps.authn.grpc_auth import service_token_metadata

    return service_token_metadata()
