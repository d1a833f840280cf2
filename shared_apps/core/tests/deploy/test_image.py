"""The image itself: docker/Dockerfile built with podman, then the migrations and the four
processes run from it exactly as docker/compose.yaml commands them, with production settings, a
read-only root filesystem (a tmpfs on /tmp, as k8s/ mounts), no capabilities, against this
machine's PostgreSQL and Redis over the host network. Health checks, a REST, a gRPC and a
websocket round trip, the metrics, and SIGTERM on the chat ASGI container with a reply in flight.

Not in ``bin/test`` (marker ``image``); run it with ``bin/test-image`` (root, Debian's podman,
buildah, mmdebstrap and runc; ``.ci/run`` installs them). The first run makes the base image and
builds every layer (about a quarter of an hour on a busy 2-core machine); later runs reuse the
cache under ``var/image-test/``. The image's size and build time are printed and written to
``var/image-test/results.json``.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
import yaml

from testkit.fake_openai import FakeOpenAIServer, default_answer, reply

from . import podman as pm
from .support import ROOT, free_port

pytestmark = [pytest.mark.image, pytest.mark.timeout(5400)]

COMPOSE = ROOT / "docker" / "compose.yaml"
POSTGRES = os.environ.get("IMAGE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("IMAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")
DATABASES = {"auth": "img_auth", "chat": "img_chat"}
LABEL = "chat-ai-image-test"
PASSWORD = "Correct-horse-battery-staple-9"


def _require_tools() -> None:
    missing = pm.missing_tools()
    if os.geteuid() != 0:
        missing.append("root (podman's rootful mode)")
    if missing:
        reason = f"the image test needs {', '.join(missing)}: apt-get install podman buildah mmdebstrap runc"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)


# --- the build ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built() -> pm.BuildResult:
    _require_tools()
    pm.CACHE.mkdir(parents=True, exist_ok=True)
    log = pm.CACHE / "build.log"
    log.write_text("")
    result = pm.build_image(log)
    record = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs",
        "image": result.image,
        "base": result.base,
        "size_bytes": result.size_bytes,
        "size_mb": round(result.size_bytes / 1e6, 1),
        "layers": result.layers,
        "base_seconds": round(result.base_seconds, 1),
        "build_seconds": round(result.build_seconds, 1),
        "reused": result.reused,  # true: nothing the build reads changed; build_seconds is the last build's
    }
    (pm.CACHE / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"\nimage {result.image}: {record['size_mb']} MB, {result.layers} layers; "
        f"base {record['base_seconds']} s, build {record['build_seconds']} s"
        f"{' (the last build; its inputs are unchanged)' if result.reused else ''}"
    )
    return result


# --- the stack ---------------------------------------------------------------------------------
@dataclass
class Role:
    name: str  # the compose service
    site: str  # auth or chat
    port: int
    kind: str  # http or grpc
    metrics_port: int | None = None
    container: str = ""


@dataclass
class Stack:
    image: str
    tmp: Path
    upstream: FakeOpenAIServer
    roles: dict[str, Role]
    envs: dict[str, dict[str, str]]
    containers: list[str] = field(default_factory=list)

    def url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.roles[role].port}"

    def target(self, role: str) -> str:
        return f"127.0.0.1:{self.roles[role].port}"


def compose_services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _reset_databases() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        for name in DATABASES.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')


def _reset_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _ulimits() -> list[str]:
    args = []
    for flag, limit, want in (("nofile", resource.RLIMIT_NOFILE, 16384), ("nproc", resource.RLIMIT_NPROC, 4096)):
        hard = resource.getrlimit(limit)[1]
        value = want if hard == resource.RLIM_INFINITY else min(want, hard)
        args += ["--ulimit", f"{flag}={value}:{value}"]
    return args


def run_args(name: str, env_file: Path) -> list[str]:
    """How every container runs: as k8s/ runs the pods (read-only root, /tmp a small tmpfs, no
    capabilities, no privilege escalation), on the host network, under runc."""
    return [
        "--name",
        name,
        "--label",
        LABEL,
        "--runtime",
        "runc",
        "--network",
        "host",
        "--read-only",
        "--read-only-tmpfs=false",
        "--tmpfs",
        "/tmp:rw,size=128m,mode=1777",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        *_ulimits(),
        "--env-file",
        str(env_file),
    ]


def remove_containers(names: list[str] | None = None) -> None:
    """Our containers only: by name, or every one with this test's label (a previous run's)."""
    if names is None:
        listed = pm.podman("ps", "--all", "--filter", f"label={LABEL}", "--format", "{{.Names}}", check=False)
        names = listed.stdout.split()
    for name in names:
        pm.podman("rm", "--force", "--time", "0", name, check=False, timeout=120)


def health_command(service: dict, role: Role) -> list[str]:
    """The compose health check of the service, pointed at this run's port."""
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD", test
    command = list(test[1:])
    compose_port = {"http": command[-1], "grpc": command[-1].rsplit(":", 1)[-1]}[role.kind]
    command[-1] = command[-1].replace(compose_port, str(role.port))
    return command


def healthy(stack: Stack, role: Role) -> subprocess.CompletedProcess:
    command = health_command(compose_services()[role.name], role)
    return pm.podman("exec", role.container, *command, check=False, timeout=60)


def wait_healthy(stack: Stack, roles: list[Role], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    pending = list(roles)
    while pending:
        for role in list(pending):
            state = pm.podman("inspect", "--format", "{{.State.Status}}", role.container, check=False).stdout.strip()
            if state not in ("running", "created", "configured"):
                logs = pm.podman("logs", role.container, check=False)
                raise AssertionError(f"{role.name} is {state}:\n{(logs.stdout + logs.stderr)[-4000:]}")
            if healthy(stack, role).returncode == 0:
                pending.remove(role)
        if pending and time.monotonic() > deadline:
            logs = {r.name: pm.podman("logs", r.container, check=False).stderr[-2000:] for r in pending}
            raise AssertionError(f"not healthy within {timeout}s: {logs}")
        if pending:
            time.sleep(1)


def production_envs(roles: dict[str, Role], upstream: FakeOpenAIServer) -> dict[str, dict[str, str]]:
    """Every variable production settings require, with fresh secrets of 384 bits."""
    auth_url = f"http://127.0.0.1:{roles['auth-rest'].port}"
    chat_url = f"http://127.0.0.1:{roles['chat-asgi'].port}"
    common = {
        "REDIS_URL": REDIS_URL,
        "DJANGO_SECURE_SSL_REDIRECT": "false",  # no TLS here, as in compose
        "DJANGO_HSTS_SECONDS": "0",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "TRUSTED_PROXIES": "",
        "JWT_ALGORITHM": "HS256",
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
        "AUTH_SERVICE_TOKEN": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
    }
    auth = {
        **common,
        "DJANGO_SETTINGS_MODULE": "auth_site.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": f"{POSTGRES}/{DATABASES['auth']}",
        "AUTH_CORS_ALLOWED_ORIGINS": chat_url,
        "PUBLIC_AUTH_URL": auth_url,
        "EMAIL_URL": "consolemail://",  # as compose: the test reads no email
    }
    chat = {
        **common,
        "DJANGO_SETTINGS_MODULE": "chat_site.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": f"{POSTGRES}/{DATABASES['chat']}",
        "AUTH_GRPC_TARGET": f"127.0.0.1:{roles['auth-grpc'].port}",
        "CHAT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-image-test",
        "OPENAI_MAX_RETRIES": "0",
        "CHAT_WS_ALLOWED_ORIGINS": chat_url,
        "CHAT_AUTH_PUBLIC_URL": auth_url,
        # Generated titles ask the upstream once more after a conversation's first reply: off,
        # so each test's scripted answer goes to its own request (titles have tests of their own).
        "CHAT_TITLES": "false",
    }
    return {"auth": auth, "chat": chat}


def role_env(stack_envs: dict[str, dict[str, str]], role: Role) -> dict[str, str]:
    env = dict(stack_envs[role.site])
    if role.kind == "http":
        env["PORT"] = str(role.port)
    else:
        env["GRPC_ADDRESS"] = f"0.0.0.0:{role.port}"
        env["GRPC_METRICS_PORT"] = str(role.metrics_port)
    return env


def write_env_file(path: Path, env: dict[str, str]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def stack(built, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("image")
    services = compose_services()
    remove_containers()  # a previous run's, if it was killed before its clean-up
    _reset_databases()
    _reset_redis()
    upstream = FakeOpenAIServer(host="127.0.0.1", delta_count=8, delta_interval=0.01).start()
    suffix = uuid.uuid4().hex[:6]
    roles = {
        "auth-rest": Role("auth-rest", "auth", free_port(), "http"),
        "auth-grpc": Role("auth-grpc", "auth", free_port(), "grpc", metrics_port=free_port()),
        "chat-asgi": Role("chat-asgi", "chat", free_port(), "http"),
        "chat-grpc": Role("chat-grpc", "chat", free_port(), "grpc", metrics_port=free_port()),
    }
    for role in roles.values():
        role.container = f"imgtest-{role.name}-{suffix}"
    stack = Stack(built.image, tmp, upstream, roles, production_envs(roles, upstream))
    try:
        # the one-shot migrations, as compose runs them
        def migrate(site: str) -> subprocess.CompletedProcess:
            name = f"imgtest-{site}-migrate-{suffix}"
            stack.containers.append(name)
            env_file = write_env_file(tmp / f"{site}-migrate.env", stack.envs[site])
            command = services[f"{site}-migrate"]["command"]
            return pm.podman("run", "--rm", *run_args(name, env_file), stack.image, *command, check=False, timeout=900)

        with ThreadPoolExecutor(2) as pool:
            migrations = dict(zip(("auth", "chat"), pool.map(migrate, ("auth", "chat")), strict=True))
        for site, result in migrations.items():
            assert result.returncode == 0, f"{site} migrations: {result.stdout[-2000:]}{result.stderr[-3000:]}"

        # the four processes, each with its compose command
        def start(role: Role) -> None:
            stack.containers.append(role.container)
            env_file = write_env_file(tmp / f"{role.name}.env", role_env(stack.envs, role))
            command = services[role.name]["command"]
            pm.podman("run", "--detach", *run_args(role.container, env_file), stack.image, *command, timeout=900)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(start, roles.values()))
        wait_healthy(stack, list(roles.values()))
        yield stack
    finally:
        for name in stack.containers:
            logs = pm.podman("logs", name, check=False)
            (tmp / f"{name}.log").write_text(logs.stdout + logs.stderr)
        remove_containers(stack.containers)
        upstream.stop()
        for path in tmp.glob("*.env"):
            path.unlink()


# --- clients -----------------------------------------------------------------------------------
def http(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict | str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            status, raw = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read().decode()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


@pytest.fixture(scope="module")
def user(stack) -> dict:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    status, created = http(
        "POST", f"{stack.url('auth-rest')}/v1/auth/signup", {"name": "Ada", "email": email, "password": PASSWORD}
    )
    assert status in (200, 201), created
    status, signed_in = http("POST", f"{stack.url('auth-rest')}/v1/auth/signin", {"email": email, "password": PASSWORD})
    assert status == 200, signed_in
    return {"email": email, "access": signed_in["tokens"]["access_token"], "signup": created}


def ws_connect(stack: Stack, token: str):
    import websockets.sync.client as ws_client

    return ws_client.connect(
        f"ws://127.0.0.1:{stack.roles['chat-asgi'].port}/ws/chat/",
        additional_headers={"Authorization": f"Bearer {token}"},
        origin=stack.url("chat-asgi"),
        open_timeout=30,
    )


def chat_rows(message_id: str) -> tuple[str, str]:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/{DATABASES['chat']}") as conn:
        return conn.execute("select status, content from chat_message where id = %s", (message_id,)).fetchone()


# --- the tests ---------------------------------------------------------------------------------
def test_the_image_holds_no_build_secret_and_runs_unprivileged(built, stack):
    inspected = json.loads(pm.podman("image", "inspect", built.image).stdout)[0]
    assert inspected["Config"]["User"] == "10001:10001"
    assert inspected["Healthcheck"]["Test"] == ["CMD", "python", "docker/healthcheck.py"]
    # the pip.conf build secret reached the builder only; no layer of the image holds it
    history = pm.podman("image", "history", "--no-trunc", "--format", "{{.CreatedBy}}", built.image).stdout
    assert "pip.conf" not in history.replace("id=pip.conf", "")
    # no pip.conf, no compiler, the static files collected (probed in a running container)
    probe = pm.podman(
        "exec",
        stack.roles["auth-rest"].container,
        "python",
        "-c",
        "import os, shutil; print(os.path.exists('/etc/pip.conf'), shutil.which('gcc'), os.path.isdir('var/static'))",
    )
    assert probe.stdout.split() == ["False", "None", "True"], probe.stdout


def test_compose_health_checks_pass_in_every_container(stack):
    for role in stack.roles.values():
        result = healthy(stack, role)
        assert result.returncode == 0, (role.name, result.stdout, result.stderr)
    for role in ("auth-rest", "chat-asgi"):
        status, body = http("GET", f"{stack.url(role)}/readyz")
        assert status == 200, (role, body)
    # the root filesystem is read-only; /tmp is the one writable place
    probe = pm.podman(
        "exec",
        stack.roles["chat-asgi"].container,
        "python",
        "-c",
        "import pathlib; pathlib.Path('/tmp/w').write_text('x'); pathlib.Path('/app/w').write_text('x')",
        check=False,
    )
    assert probe.returncode != 0 and "Read-only file system" in probe.stderr, probe.stderr


def test_rest_round_trip_sign_up_sign_in_conversation_and_reply(stack, user):
    chat = stack.url("chat-asgi")
    status, conversation = http("POST", f"{chat}/v1/chat/conversations", {"title": "Image"}, token=user["access"])
    assert status == 201, conversation
    status, posted = http(
        "POST",
        f"{chat}/v1/chat/conversations/{conversation['id']}/messages",
        {"content": "hello image"},
        token=user["access"],
    )
    assert status == 201, posted
    expected = default_answer({"messages": [{"role": "user", "content": "hello image"}]})
    assert posted["assistant_message"]["status"] == "complete"
    assert posted["assistant_message"]["content"] == expected
    assert chat_rows(posted["assistant_message"]["id"]) == ("complete", expected)


def test_grpc_round_trip_sign_in_and_streamed_reply(stack, user):
    from protos import auth_pb2, auth_pb2_grpc, chat_pb2, chat_pb2_grpc

    with grpc.insecure_channel(stack.target("auth-grpc")) as channel:
        signed_in = auth_pb2_grpc.AuthServiceStub(channel).SignIn(
            auth_pb2.Credentials(email=user["email"], password=PASSWORD), timeout=60
        )
    token = signed_in.tokens.access_token
    assert token
    with grpc.insecure_channel(stack.target("chat-grpc")) as channel:
        events = list(
            chat_pb2_grpc.ChatServiceStub(channel).StreamChatWithAI(
                chat_pb2.ChatWithAIRequest(message="hello grpc"),
                metadata=[("authorization", f"Bearer {token}")],
                timeout=60,
            )
        )
    kinds = [event.WhichOneof("event") for event in events]
    assert kinds[:2] == ["ack", "start"] and kinds[-1] == "done", kinds
    expected = default_answer({"messages": [{"role": "user", "content": "hello grpc"}]})
    assert "".join(e.delta.content for e in events if e.HasField("delta")) == expected
    assert events[-1].done.message.content == expected


def test_websocket_round_trip(stack, user):
    with ws_connect(stack, user["access"]) as ws:
        ws.send(json.dumps({"type": "message", "content": "hello socket", "client_message_id": "img-1"}))
        frames = []
        while not frames or frames[-1]["type"] not in ("done", "error"):
            frames.append(json.loads(ws.recv(timeout=60)))
    assert [f["type"] for f in frames[:2]] == ["ack", "start"], frames
    expected = default_answer({"messages": [{"role": "user", "content": "hello socket"}]})
    assert frames[-1]["type"] == "done" and frames[-1]["message"]["content"] == expected, frames[-1]


def test_metrics_endpoints(stack):
    for role in ("auth-rest", "chat-asgi"):
        status, text = http("GET", f"{stack.url(role)}/metrics")
        assert status == 200 and "django_http_requests_total_by_view_transport_method_total" in text, role
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.roles['chat-grpc'].metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert 'grpc_method="StreamChatWithAI"' in text and "grpc_server_handled_total" in text
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.roles['auth-grpc'].metrics_port}/metrics", timeout=10) as r:
        assert 'grpc_method="SignIn"' in r.read().decode()


def test_sigterm_on_the_chat_asgi_container_finishes_the_reply_in_flight(stack, user):
    """docs/RELIABILITY.md: on SIGTERM a reply in flight finishes within the grace period
    (CHAT_SHUTDOWN_GRACE_SECONDS, 10 s by default) or is stored `cancelled`; the socket either
    sees it to the end or is closed with 1012 (service restart: reconnect to another process and
    resume, docs/API.md). With the image's defaults a 4.5-second reply finishes and is stored
    complete, and gunicorn exits 0."""
    from websockets.exceptions import ConnectionClosed

    role = stack.roles["chat-asgi"]
    words = [f"w{i} " for i in range(30)]
    stack.upstream.enqueue(reply(words, delta_interval=0.15))
    stopped: dict[str, subprocess.CompletedProcess] = {}
    closed: ConnectionClosed | None = None
    with ws_connect(stack, user["access"]) as ws:
        ws.send(json.dumps({"type": "message", "content": "tell me slowly"}))
        frames = [json.loads(ws.recv(timeout=30)) for _ in range(4)]
        assert [f["type"] for f in frames] == ["ack", "start", "delta", "delta"], frames
        started_at = time.monotonic()

        # when: the container is stopped (SIGTERM to gunicorn, PID 1; SIGKILL only after 60 s,
        # compose's stop_grace_period for chat-asgi)
        def stop() -> None:
            stopped["result"] = pm.podman("stop", "--time", "60", role.container, check=False, timeout=120)

        stop_thread = threading.Thread(target=stop)
        stop_thread.start()
        try:
            while frames[-1]["type"] not in ("done", "error"):
                frames.append(json.loads(ws.recv(timeout=30)))
        except ConnectionClosed as exc:
            closed = exc
    stop_thread.join(timeout=120)
    # then: the socket saw the whole reply, or a clean 1012 after a prefix of it
    received = "".join(f["content"] for f in frames if f["type"] == "delta")
    if closed is not None:
        assert closed.rcvd is not None and closed.rcvd.code == 1012, closed
        assert "".join(words).startswith(received), received
    else:
        assert frames[-1]["type"] == "done", frames[-3:]
        assert frames[-1]["message"]["content"] == "".join(words)
    # and: the reply finished within the grace period and is stored complete
    assert chat_rows(frames[1]["message_id"]) == ("complete", "".join(words))
    # and: the container exited 0, well before the SIGKILL
    assert stopped["result"].returncode == 0, stopped["result"].stderr
    state = json.loads(pm.podman("inspect", role.container).stdout)[0]["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 0, state
    assert time.monotonic() - started_at < 55
    logs = pm.podman("logs", role.container, check=False)
    assert "Traceback" not in logs.stdout + logs.stderr, (logs.stdout + logs.stderr)[-4000:]
