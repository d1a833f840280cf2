"""Settings and hooks shared by ``gunicorn.auth.py`` and ``gunicorn.chat.py``.

Everything is read from the environment with a default that suits a container behind an
ingress; a bad value stops gunicorn with one line naming the variable.

Metrics: gunicorn forks several workers, each with its own Prometheus registry. So that
``/metrics`` reports the whole pod rather than whichever worker answered the scrape, the
workers run prometheus_client in multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` (default
``/tmp/prometheus-multiproc``, on the pod's writable ``/tmp``) is emptied when the
arbiter starts and a dead worker's files are marked so its live gauges disappear.
django-prometheus's view reads that directory whenever the variable is set.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import sys
from pathlib import Path

from gunicorn.glogging import Logger, SafeAtoms


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        sys.exit(f"configuration error: {name} must be an integer, got {raw!r}")
    if value < minimum:
        sys.exit(f"configuration error: {name} must be at least {minimum}, got {value}")
    return value


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    sys.exit(f"configuration error: {name} must be true or false, got {raw!r}")


def trusted_proxies() -> str:
    """``TRUSTED_PROXIES`` (IPs or CIDR networks, comma-separated; empty by default), the same
    list the Django settings read: gunicorn and uvicorn take forwarding headers
    (X-Forwarded-Proto, and for uvicorn X-Forwarded-For) only from these peers."""
    raw = os.environ.get("TRUSTED_PROXIES", "").strip()
    entries = [item.strip() for item in raw.split(",") if item.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry)
        except ValueError as exc:
            sys.exit(f"configuration error: TRUSTED_PROXIES must list IP addresses or CIDR networks: {exc}")
    return ",".join(entries)


def bind_from_env(default_port: int) -> list[str]:
    """``GUNICORN_BIND`` (host:port, comma-separated) wins; else all interfaces on ``PORT``."""
    explicit = os.environ.get("GUNICORN_BIND", "").strip()
    if explicit:
        return [item.strip() for item in explicit.split(",") if item.strip()]
    return [f"0.0.0.0:{env_int('PORT', default_port, minimum=1)}"]


# One JSON object a line, so the log pipeline that parses the apps' structlog lines parses
# these too. Off by default: django-structlog already logs every request with its request id.
ACCESS_LOG_FORMAT = (
    '{"event": "http_access", "logger": "gunicorn.access", "remote": "%(h)s", "method": "%(m)s", '
    '"path": "%(U)s", "query": "%(q)s", "status": %(s)s, "bytes": "%(B)s", "duration_us": %(D)s, '
    '"request_id": "%({x-request-id}i)s", "user_agent": "%(a)s"}'
)


class JsonAtoms(SafeAtoms):
    """The access log's values escaped for a JSON string: gunicorn's ``SafeAtoms`` escapes only
    ``"``, so a backslash before it (``\\"`` in a header) closed the string and let a client add
    fields, and a ``%0A`` in the path (decoded) or a control character started a forged line."""

    def __init__(self, atoms: dict) -> None:
        dict.__init__(self)
        for key, value in atoms.items():
            self[key] = json.dumps(value)[1:-1] if isinstance(value, str) else value


class JsonAccessLogger(Logger):
    """gunicorn's logger with ``JsonAtoms``: every ``ACCESS_LOG_FORMAT`` line is one JSON object."""

    atoms_wrapper_class = JsonAtoms


def heartbeat_dir() -> str | None:
    """Each worker's heartbeat file: on tmpfs, so a slow disk never looks like a hung worker."""
    default = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs, the worker's own file
    return os.environ.get("GUNICORN_WORKER_TMP_DIR", default)


def access_log_target() -> str | None:
    return "-" if env_flag("GUNICORN_ACCESS_LOG", False) else None


# --- Prometheus multiprocess mode ------------------------------------------------------------
# The pod's /tmp is a private emptyDir, not a shared world-writable directory.
MULTIPROC_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/prometheus-multiproc"))  # noqa: S108
MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)  # also for --check-config, which loads the app


def on_starting(server) -> None:  # noqa: ARG001 - gunicorn's hook signature
    """Arbiter start: a clean metrics directory (files of a previous run would be summed in)."""
    shutil.rmtree(MULTIPROC_DIR, ignore_errors=True)
    MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker) -> None:  # noqa: ARG001
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
