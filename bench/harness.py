"""What every benchmark needs: core pinning, the databases, the real services as pinned
subprocesses (auth gRPC, auth REST, chat ASGI, chat gRPC), users, statistics, CPU and memory
of a process.

Layout on a two-core box: the service under test runs alone on ``SERVICE_CPU``; the fake
upstream, the load generator (this process) and helper services share ``LOAD_CPU``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testkit.processes import chat_asgi_command, free_port

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-Tr0ub4dor&3-horse"
_CPUS = sorted(os.sched_getaffinity(0))
SERVICE_CPU = _CPUS[0]
LOAD_CPU = _CPUS[1] if len(_CPUS) > 1 else _CPUS[0]
PINNED = len(_CPUS) > 1
# Shared by both bench services (HS256); long enough for the production checks.
JWT_SECRET = "bench-" + secrets.token_hex(24)
DJANGO_SECRET = "bench-" + secrets.token_hex(32)
SERVICE_TOKEN = "bench-" + secrets.token_hex(24)  # the chat service's credential for the revocation feed
PG_BASE = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def pin_self() -> None:
    """The load generator lives on LOAD_CPU."""
    if PINNED:
        os.sched_setaffinity(0, {LOAD_CPU})


def pinned(argv: Sequence[str], cpu: int | None) -> list[str]:
    """``argv`` run on one CPU through ``taskset`` (no Python code between fork and exec: the
    bench process has threads, and grpc's among them)."""
    if cpu is None or not PINNED:
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


def raise_priority() -> int:
    """Run the bench and everything it starts (services, baselines, LiteLLM, the upstream; they
    inherit it) at ``BENCH_NICE`` (default -10), so other work on the box (test suites) takes
    less CPU from the measured processes. Every side gets the same priority. Returns the nice
    value in force (unchanged when not permitted)."""
    wanted = int(os.environ.get("BENCH_NICE", "-10"))
    try:
        os.setpriority(os.PRIO_PROCESS, 0, wanted)
    except (PermissionError, OSError):
        pass
    return os.getpriority(os.PRIO_PROCESS, 0)


# --- statistics ----------------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- processes -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """user+system CPU of a process (all its threads) from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / ticks


def cpu_precise(pid: int) -> float:
    """CPU seconds of a process's live threads from their schedstat (nanoseconds, not the 10 ms
    ticks of /proc/PID/stat). Threads that exited are not counted; the services keep theirs."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def tree_cpu(pid: int) -> float:
    """cpu_precise of a process and all its descendants."""
    return sum(cpu_precise(p) for p in (pid, *descendants(pid)))


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def descendants(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == pid:
            out.append(int(entry))
            out.extend(descendants(int(entry)))
    return out


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    address: str
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def worker_pid(self) -> int:
        """The process doing the work (gunicorn's worker, not its arbiter)."""
        kids = descendants(self.process.pid)
        return kids[0] if kids else self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT if self.name == "py-spy" else signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Stack:
    """Databases and environment shared by the services of one bench run."""

    chat_db: str
    auth_db: str
    postgres: bool
    tmp: Path
    services: list[Service] = field(default_factory=list)

    def env(self, site: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
        env.update(
            DJANGO_SETTINGS_MODULE=f"bench.settings_{site}",
            DATABASE_URL=self.chat_db if site == "chat" else self.auth_db,
            DJANGO_SECRET_KEY=DJANGO_SECRET,
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SECURE_SSL_REDIRECT="false",
            JWT_SIGNING_KEY=JWT_SECRET,
            AUTH_SERVICE_TOKEN=SERVICE_TOKEN,
            CHAT_WS_ALLOWED_ORIGINS="http://127.0.0.1",
            CHAT_AUTH_PUBLIC_URL="http://127.0.0.1:8081",  # the web page's sign-in origin (production)
            AUTH_CORS_ALLOWED_ORIGINS="http://127.0.0.1:8083",
            PUBLIC_AUTH_URL="http://127.0.0.1:8081",
            EMAIL_URL="dummymail://",
            LOG_FORMAT="json",
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        site: str | None,
        cpu: int | None,
        ready: str,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Service:
        """Start a pinned service and wait until ``ready`` answers. ``site`` None: ``env`` is
        the whole environment (a foreign program such as LiteLLM's proxy). A process that dies
        while starting is started once more (the failure is printed and kept in
        ``START_FAILURES``, which the results page lists: a crash at start-up is not a figure)."""
        try:
            return self._start(name, argv, site=site, cpu=cpu, ready=ready, env=env, timeout=timeout)
        except _DiedStarting as exc:
            START_FAILURES.append(f"{name}: {exc.tail[-300:]}")
            print(f"  {name} died while starting; starting it once more:\n{exc.tail[-600:]}", flush=True)
            return self._start(name, argv, site=site, cpu=cpu, ready=ready, env=env, timeout=timeout)

    def _start(self, name, argv, *, site, cpu, ready, env, timeout) -> Service:
        log_path = self.tmp / f"{name}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(  # noqa: S603 - our own commands
            pinned(argv, cpu),
            cwd=ROOT,
            env={**self.env(site), **(env or {})} if site else {"PATH": os.environ["PATH"], **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        service = Service(name, process, ready, log_path)
        self.services.append(service)
        try:
            _wait_ready(service, ready, timeout)
        except BaseException:
            service.stop()
            self.services.remove(service)
            raise
        return service

    def stop(self, service: Service) -> None:
        service.stop()
        if service in self.services:
            self.services.remove(service)

    def stop_all(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()


class _DiedStarting(RuntimeError):
    def __init__(self, message: str, tail: str) -> None:
        super().__init__(message)
        self.tail = tail


START_FAILURES: list[str] = []  # services that died while starting (and were started again)


def _wait_ready(service: Service, ready: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            tail = service.log_path.read_text(errors="replace")[-3000:] if service.log_path else ""
            raise _DiedStarting(f"{service.name} exited with {service.process.returncode}:\n{tail}", tail)
        try:
            if ready.startswith("http"):
                urllib.request.urlopen(ready, timeout=1)  # noqa: S310 - loopback
            else:
                import grpc

                with grpc.insecure_channel(ready) as channel:
                    grpc.channel_ready_future(channel).result(timeout=1)
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    raise RuntimeError(f"{service.name} did not become ready at {ready}")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{PG_BASE}/postgres", connect_timeout=2):
            return True
    except Exception:  # noqa: BLE001
        return False


def _pg_recreate(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def stack(tmp: Path) -> Iterator[Stack]:
    postgres = os.environ.get("BENCH_SQLITE") != "1" and _pg_available()
    if postgres:
        for name in ("chatai_bench_chat", "chatai_bench_auth"):
            _pg_recreate(name)
        s = Stack(f"{PG_BASE}/chatai_bench_chat", f"{PG_BASE}/chatai_bench_auth", True, tmp)
    else:
        s = Stack(f"sqlite:///{tmp / 'chat.sqlite3'}", f"sqlite:///{tmp / 'auth.sqlite3'}", False, tmp)
    for site in ("chat", "auth"):
        subprocess.run(  # noqa: S603
            [sys.executable, f"manage_{site}.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=s.env(site), check=True
        )
    try:
        yield s
    finally:
        s.stop_all()


# --- the services ---------------------------------------------------------------------------


# The bench's few users stand for many: per-user limits would refuse its streams and sockets.
UNCAPPED = {
    "CHAT_MAX_SOCKETS_PER_USER": "100000",
    "GRPC_MAX_STREAMS_PER_USER": "100000",
    "CHAT_MAX_REPLIES_IN_FLIGHT_PER_USER": "100000",
    "CHAT_RATE_TOKENS_PER_DAY": "1000000000000",
}


def auth_grpc(s: Stack, *, cpu: int | None = LOAD_CPU) -> Service:
    target = f"127.0.0.1:{free_port()}"
    return s.start(
        "auth-grpc",
        [sys.executable, "manage_auth.py", "grpcserve", target, "--grace", "1"],
        site="auth",
        cpu=cpu,
        ready=target,
    )


def auth_rest(s: Stack, *, cpu: int | None = SERVICE_CPU, env: dict[str, str] | None = None) -> Service:
    port = free_port()
    extra = {"GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", **(env or {})}
    return s.start(
        "auth-rest",
        [sys.executable, "-m", "gunicorn", "-c", "docker/gunicorn.auth.py", "auth_site.wsgi:application"],
        site="auth",
        cpu=cpu,
        ready=f"http://127.0.0.1:{port}/healthz",
        env=extra,
    )


def chat_asgi(
    s: Stack,
    *,
    auth_target: str,
    upstream: str,
    cpu: int | None = SERVICE_CPU,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    name: str = "chat-asgi",
) -> Service:
    """The chat ASGI app under uvicorn; ``args`` are extra uvicorn options (``--loop``, ``--http``)."""
    port = free_port()
    extra = {
        "AUTH_GRPC_TARGET": auth_target,
        "CHAT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream,
        "OPENAI_API_KEY": "sk-bench",
        "CHAT_RATE_MESSAGES_PER_MINUTE": "1000000",
        **UNCAPPED,
        "CHAT_ALLOWED_MODELS": "fake-model",
        "CHAT_MODEL": "fake-model",
        **(env or {}),
    }
    argv = chat_asgi_command(port, "--no-access-log", "--ws-max-queue", "1024", *args)
    service = s.start(name, argv, site="chat", cpu=cpu, ready=f"http://127.0.0.1:{port}/healthz", env=extra)
    profile_attach(s, service)
    return service


def profile_attach(s: Stack, service: Service) -> None:
    """``BENCH_PROFILE=DIR``: sample the service with py-spy (collapsed stacks in DIR)."""
    out = os.environ.get("BENCH_PROFILE")
    if not out:
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    path = Path(out) / f"{service.name}-{service.pid}.txt"
    spy = subprocess.Popen(  # noqa: S603
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(service.pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "-o",
            str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    s.services.append(Service("py-spy", spy, ""))


def chat_grpc(
    s: Stack, *, auth_target: str, upstream: str, cpu: int | None = SERVICE_CPU, env: dict[str, str] | None = None
) -> Service:
    target = f"127.0.0.1:{free_port()}"
    extra = {
        "AUTH_GRPC_TARGET": auth_target,
        "CHAT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream,
        "OPENAI_API_KEY": "sk-bench",
        "CHAT_RATE_MESSAGES_PER_MINUTE": "1000000",
        **UNCAPPED,
        "CHAT_ALLOWED_MODELS": "fake-model",
        "CHAT_MODEL": "fake-model",
        **(env or {}),
    }
    return s.start(
        "chat-grpc",
        [sys.executable, "manage_chat.py", "grpcserve", target, "--grace", "1"],
        site="chat",
        cpu=cpu,
        ready=target,
        env=extra,
    )


@dataclass
class User:
    user_id: uuid.UUID
    access: str
    refresh: str
    email: str

    @property
    def bearer(self) -> str:
        return f"Bearer {self.access}"


def sign_up(auth_target: str, n: int = 1) -> list[User]:
    import grpc

    from protos import auth_pb2, auth_pb2_grpc

    users = []
    with grpc.insecure_channel(auth_target) as channel:
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        for _ in range(n):
            email = f"b{uuid.uuid4().hex[:12]}@example.com"
            r = stub.SignUp(auth_pb2.UserCreateRequest(name="Bench", email=email, password=PASSWORD))
            users.append(User(uuid.UUID(r.user.id), r.tokens.access_token, r.tokens.refresh_token, email))
    return users


_django_ready = False


def django_in_process(s: Stack, *, auth_target: str, **extra: str) -> None:
    """Configure Django in this process as the chat service (production settings, the bench
    database), for the in-process benchmarks (c, e). Once per process."""
    global _django_ready
    if _django_ready:
        return
    env = s.env(
        "chat",
        AUTH_GRPC_TARGET=auth_target,
        CHAT_RATE_MESSAGES_PER_MINUTE="1000000",
        **UNCAPPED,
        CHAT_ALLOWED_MODELS="fake-model",
        CHAT_MODEL="fake-model",
        OPENAI_API_KEY="sk-bench",
        CHAT_PROVIDER="openai",
        LOG_LEVEL="WARNING",
        **extra,
    )
    os.environ.update(env)
    import django

    django.setup()
    _django_ready = True
