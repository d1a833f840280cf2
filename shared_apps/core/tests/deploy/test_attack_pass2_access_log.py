"""Second attack pass: the gunicorn access log (``GUNICORN_ACCESS_LOG``) is one JSON object a
line whatever the client sends. Before, gunicorn escaped only ``"`` in the values it put in
``ACCESS_LOG_FORMAT``: a backslash in a header (``X-Request-ID``, ``User-Agent``) unbalanced the
line's quotes and a ``%0A`` in the path split it in two, so the log pipeline dropped or
misread the request's line. The real auth app under ``docker/gunicorn.auth.py``, production
settings."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

from .support import ROOT, VENV_BIN, free_port, wait_for_port

HOSTILE = [
    ("/healthz", {"X-Request-ID": '\\", "forged": "1', "User-Agent": "agent\\"}),
    ('/v1/health%0A{"event":"forged"}%5C', {"User-Agent": 'a"b\\'}),
    ("/healthz?q=%22%5C%0A", {"X-Request-ID": "\\\\\\"}),
]


def _send(port: int, path: str, headers: dict[str, str]) -> bytes:
    head = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall((head + "\r\n").encode())
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    return response


def test_access_log_lines_stay_json_whatever_the_client_sends(auth_prod):
    # given: gunicorn with the production config and the access log on
    env, _tmp = auth_prod
    port = free_port()
    env = {**env, "PORT": str(port), "WEB_CONCURRENCY": "1", "GUNICORN_ACCESS_LOG": "true"}
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "docker/gunicorn.auth.py", "auth_site.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, proc)
        # when: requests with backslashes, quotes and encoded newlines in the path and headers
        for path, headers in HOSTILE:
            assert _send(port, path, headers).startswith(b"HTTP/1.1 ")
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    # then: every JSON line of the output parses (the app's own lines are JSON too), with one
    # access line per request holding exactly the format's fields and what the client sent
    parsed = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [entry for entry in parsed if entry.get("event") == "http_access"]
    assert len(access) == len(HOSTILE)
    assert not [entry for entry in parsed if entry.get("event") == "forged" or "forged" in entry]
    fields = {"event", "logger", "remote", "method", "path", "query", "status", "bytes", "duration_us"}
    assert all(set(entry) == fields | {"request_id", "user_agent"} for entry in access)
    assert access[0]["request_id"] == '\\", "forged": "1' and access[0]["user_agent"] == "agent\\"
    assert access[1]["path"].startswith('/v1/health\n{"event":"forged"}')
