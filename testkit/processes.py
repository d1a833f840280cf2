"""Starting the services as real processes, for the tests and the bench: one command line
per server and one readiness wait per protocol, so every suite runs what production runs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chat_asgi_command(port: int, *extra: str) -> list[str]:
    """The chat ASGI app under uvicorn on loopback (lifespan off unless ``extra`` says otherwise)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "chat_site.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--log-level",
        "warning",
        *extra,
    ]


def chat_gunicorn_command() -> list[str]:
    """The chat ASGI app as production runs it: gunicorn with docker/gunicorn.chat.py (uvicorn
    workers, lifespan on, WEB_CONCURRENCY workers); PORT in the environment picks the port."""
    return [sys.executable, "-m", "gunicorn", "-c", "docker/gunicorn.chat.py", "chat_site.asgi:application"]


def http_wait(url: str, process: subprocess.Popen | None = None, timeout: float = 40.0) -> None:
    """Until ``url`` answers; fails early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 - loopback
            return
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def grpc_wait(target: str, timeout: float = 40.0) -> None:
    import grpc

    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)
