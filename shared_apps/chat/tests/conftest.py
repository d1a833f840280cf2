"""Chat test fixtures: a real auth service (gRPC, subprocess; started only for the tests that
ask for it, through ``auth_service`` or a signed-in user), the fake OpenAI-compatible upstream
on loopback, signed-in users, clients for each transport."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from protos import auth_pb2, auth_pb2_grpc
from shared_apps.authn.revocation import revocation_feed_reset
from shared_apps.chat.providers import openai_provider
from shared_apps.core.testing import release_test_database
from testkit.fake_openai import FakeOpenAIServer
from testkit.processes import ROOT, chat_asgi_command, free_port, http_wait

PASSWORD = "Tr0ub4dor&3-horse"


@dataclass
class AuthService:
    target: str
    stub: auth_pb2_grpc.AuthServiceStub
    process: subprocess.Popen


@dataclass
class SignedIn:
    user_id: uuid.UUID
    access: str
    refresh: str
    email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.access}"}

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.access}"),)


def auth_env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="auth_site.settings.test",
        DATABASE_URL=f"sqlite:///{db_path}",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database; at the end of the session, before it is dropped, every
    connection this process still holds to it is closed (ORM calls on helper threads leave
    theirs open), so PostgreSQL lets it go instead of "database is being accessed by other
    users" (which left test_chatai behind). A session another process still holds is ended and
    named in a warning: a server subprocess outlived its test."""
    yield
    with django_db_blocker.unblock():
        ended = release_test_database()
    if ended:
        warnings.warn(
            pytest.PytestWarning(f"test database still in use at the end of the session; ended: {', '.join(ended)}"),
            stacklevel=1,
        )


@pytest.fixture(scope="session")
def auth_service(tmp_path_factory):
    """The real auth service's gRPC server, in its own process with its own database."""
    db_path = tmp_path_factory.mktemp("auth") / "auth.sqlite3"
    env = auth_env(db_path)
    subprocess.run([sys.executable, "manage_auth.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
    target = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "manage_auth.py", "grpcserve", target, "--grace", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=30)
    # This process's token checks (the revocation feed) ask this auth service.
    django_settings.AUTH_GRPC_TARGET = target
    revocation_feed_reset()
    yield AuthService(target, auth_pb2_grpc.AuthServiceStub(channel), process)
    revocation_feed_reset()
    channel.close()
    process.terminate()
    process.wait(timeout=15)


def sign_up(auth_service: AuthService) -> SignedIn:
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    response = auth_service.stub.SignUp(auth_pb2.UserCreateRequest(name="Test", email=email, password=PASSWORD))
    return SignedIn(
        user_id=uuid.UUID(response.user.id),
        access=response.tokens.access_token,
        refresh=response.tokens.refresh_token,
        email=email,
    )


@pytest.fixture
def alice(auth_service) -> SignedIn:
    return sign_up(auth_service)


@pytest.fixture
def bob(auth_service) -> SignedIn:
    return sign_up(auth_service)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture(scope="session")
def _upstream_server():
    with FakeOpenAIServer(delta_count=8, delta_interval=0.0) as server:
        yield server


@pytest.fixture
def upstream(_upstream_server, settings):
    """The fake OpenAI-compatible server, reset, with the chat service pointed at it."""
    _upstream_server.reset()
    settings.CHAT_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = _upstream_server.base_url
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_MAX_RETRIES = 0
    settings.CHAT_ALLOWED_MODELS = ["gpt-4o-mini", "fake-model"]
    openai_provider.reset_clients()
    yield _upstream_server
    openai_provider.reset_clients()


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_database_url() -> str:
    """The URL of the database this test run uses, for server subprocesses that must share it."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def chat_asgi_process(*, upstream, auth_service, redis_url: str, **extra_env: str):
    """Start another chat ASGI process (uvicorn) on the test database, Redis and upstream;
    returns (process, websocket URL) once it answers /healthz."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chat_site.settings.test",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": redis_url or "",  # read at import there: set before it starts (empty: none)
        "AUTH_GRPC_TARGET": auth_service.target,
        "CHAT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_MAX_RETRIES": "0",
        "PYTHONPATH": str(ROOT),
        **extra_env,
    }
    process = subprocess.Popen(
        chat_asgi_command(port),
        cwd=ROOT,
        env=env,
    )
    try:
        http_wait(f"http://127.0.0.1:{port}/healthz", process)
    except (OSError, RuntimeError):
        process.kill()
        raise
    return process, f"ws://127.0.0.1:{port}/ws/chat/"
