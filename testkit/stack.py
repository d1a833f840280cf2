"""The real stack on loopback, for the client tests (browser page and ``chatctl``).

Five processes on free ports, each with the settings it has in development: auth REST
(``runserver``) and auth gRPC (``grpcserve``) on one SQLite database, chat ASGI (uvicorn) and chat
gRPC (``grpcserve``) on another, the offline ``local`` model slowed down so that a test can act
mid-reply. The clients reach it only through its public ports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testkit.processes import ROOT, chat_asgi_command, free_port, grpc_wait, http_wait

PASSWORD = "Tr0ub4dor&3-horse"
# Seconds between two words of the local model's reply: slow enough to act mid-reply.
WORD_DELAY = 0.12


@dataclass
class Stack:
    auth_url: str
    auth_grpc: str
    chat_url: str
    chat_grpc: str
    tmp: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.chat_url

    @property
    def page_url(self) -> str:
        return f"{self.chat_url}/app/"

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if dead:
            logs = {name: (self.tmp / f"{name}.log").read_text()[-2000:] for name in dead}
            raise AssertionError(f"stack processes died: {dead}\n{logs}")


def _base_env() -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING", LOG_FORMAT="console", PYTHONUNBUFFERED="1")
    return env


def stack_start(tmp: Path) -> Stack:
    ports = {name: free_port() for name in ("auth_rest", "auth_grpc", "chat_asgi", "chat_grpc")}
    stack = Stack(
        auth_url=f"http://127.0.0.1:{ports['auth_rest']}",
        auth_grpc=f"127.0.0.1:{ports['auth_grpc']}",
        chat_url=f"http://127.0.0.1:{ports['chat_asgi']}",
        chat_grpc=f"127.0.0.1:{ports['chat_grpc']}",
        tmp=tmp,
    )
    auth_env = {
        **_base_env(),
        "DJANGO_SETTINGS_MODULE": "auth_site.settings.test",  # cheap password hashing
        "DATABASE_URL": f"sqlite:///{tmp / 'auth.sqlite3'}",
        "AUTH_CORS_ALLOWED_ORIGINS": stack.origin,
    }
    chat_env = {
        **_base_env(),
        # The development settings (the test settings pin the local model's delay to 0).
        "DJANGO_SETTINGS_MODULE": "chat_site.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp / 'chat.sqlite3'}",
        "CHAT_PROVIDER": "local",
        "CHAT_LOCAL_DELAY_SECONDS": str(WORD_DELAY),
        "CHAT_WS_ALLOWED_ORIGINS": stack.origin,
        "CHAT_AUTH_PUBLIC_URL": stack.auth_url,
        "AUTH_GRPC_TARGET": stack.auth_grpc,
    }
    for manage, env in (("manage_auth.py", auth_env), ("manage_chat.py", chat_env)):
        subprocess.run([sys.executable, manage, "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    commands = {
        "auth_grpc": ([sys.executable, "manage_auth.py", "grpcserve", stack.auth_grpc, "--grace", "1"], auth_env),
        "auth_rest": (
            [sys.executable, "manage_auth.py", "runserver", stack.auth_url.split("//")[1], "--noreload"],
            auth_env,
        ),
        "chat_asgi": (
            chat_asgi_command(ports["chat_asgi"]),
            chat_env,
        ),
        "chat_grpc": ([sys.executable, "manage_chat.py", "grpcserve", stack.chat_grpc, "--grace", "1"], chat_env),
    }
    for name, (command, env) in commands.items():
        log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        stack.processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        grpc_wait(stack.auth_grpc)
        http_wait(f"{stack.auth_url}/healthz", stack.processes["auth_rest"])
        http_wait(f"{stack.chat_url}/healthz", stack.processes["chat_asgi"])
        grpc_wait(stack.chat_grpc)
    except BaseException:
        stack_stop(stack)
        raise
    return stack


def stack_stop(stack: Stack) -> None:
    for process in stack.processes.values():
        if process.poll() is None:
            process.terminate()
    for process in stack.processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stack")
    running = stack_start(tmp)
    yield running
    stack_stop(running)


def new_email() -> str:
    return f"u{uuid.uuid4().hex[:12]}@example.com"


def require_tool(path_or_name: str, why: str) -> str:
    """The tool's path, or skip (fail under CI=1/true: CI installs it) with a clear reason."""
    found = shutil.which(path_or_name)
    if found:
        return found
    reason = f"{path_or_name} is not installed: {why}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


def stack_front_start(stack: Stack, tmp: Path, **chat_env: str) -> Stack:
    """Another front door on ``stack``'s databases: an auth REST process whose CORS list holds the
    new chat origin, and a chat ASGI process with ``chat_env`` over the stack's chat settings
    (e.g. ``CHAT_PROVIDER=openai`` pointed at ``testkit.fake_openai``, so a test scripts what the
    model answers). Both gRPC servers are the stack's. Stop it with :func:`stack_stop`."""
    auth_port, chat_port = free_port(), free_port()
    front = Stack(
        auth_url=f"http://127.0.0.1:{auth_port}",
        auth_grpc=stack.auth_grpc,
        chat_url=f"http://127.0.0.1:{chat_port}",
        chat_grpc=stack.chat_grpc,
        tmp=tmp,
    )
    auth_env = {
        **_base_env(),
        "DJANGO_SETTINGS_MODULE": "auth_site.settings.test",
        "DATABASE_URL": f"sqlite:///{stack.tmp / 'auth.sqlite3'}",
        "AUTH_CORS_ALLOWED_ORIGINS": front.origin,
    }
    chat = {
        **_base_env(),
        "DJANGO_SETTINGS_MODULE": "chat_site.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{stack.tmp / 'chat.sqlite3'}",
        "CHAT_WS_ALLOWED_ORIGINS": front.origin,
        "CHAT_AUTH_PUBLIC_URL": front.auth_url,
        "AUTH_GRPC_TARGET": stack.auth_grpc,
        **chat_env,
    }
    commands = {
        "auth_rest": (
            [sys.executable, "manage_auth.py", "runserver", f"127.0.0.1:{auth_port}", "--noreload"],
            auth_env,
        ),
        "chat_asgi": (chat_asgi_command(chat_port), chat),
    }
    for name, (command, env) in commands.items():
        log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        front.processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        http_wait(f"{front.auth_url}/healthz", front.processes["auth_rest"])
        http_wait(f"{front.chat_url}/healthz", front.processes["chat_asgi"])
    except BaseException:
        stack_stop(front)
        raise
    return front
