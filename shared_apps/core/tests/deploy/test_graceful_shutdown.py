"""SIGTERM drains, it does not cut: the auth REST app under docker/gunicorn.auth.py and the
auth gRPC server under ``manage_auth.py grpcserve`` finish a request that is in flight when
the signal arrives, then exit 0. Both run as real subprocesses with production settings.
Each also serves its Prometheus metrics while running (gunicorn in multiprocess mode)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc

from .support import PYTHON, ROOT, VENV_BIN, free_port, wait_for_port


def http_get(port: int, path: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": "localhost"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_gunicorn_auth_finishes_the_request_in_flight_on_sigterm_and_exits_0(auth_prod):
    # given: gunicorn with the production config, one worker
    env, tmp = auth_prod
    port = free_port()
    env = {**env, "PORT": str(port), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "2", "GUNICORN_GRACEFUL_TIMEOUT": "15"}
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "-c", "docker/gunicorn.auth.py", "auth_site.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc)
        assert http_get(port, "/healthz")[0] == 200

        # and: the request counts are on /metrics, summed over the workers' files
        status, metrics = http_get(port, "/metrics")
        assert status == 200
        counted = (
            'django_http_requests_total_by_view_transport_method_total{method="GET",transport="http",view="healthz"}'
        )
        assert counted in metrics

        # when: a request is half sent, SIGTERM arrives, then the rest of the request
        body = json.dumps({"email": "nobody@example.com", "password": "wrong-password-123"}).encode()
        conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        conn.sendall(
            b"POST /v1/auth/signin HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body[:10]
        )
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        conn.sendall(body[10:])
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
        conn.close()

        # then: the request got its real answer, and gunicorn exited cleanly
        status_line = response.split(b"\r\n", 1)[0].decode()
        assert status_line.startswith("HTTP/1.1 4"), response[:500]
        assert proc.wait(timeout=30) == 0
    finally:
        stop(proc)
    output = proc.stdout.read().decode(errors="replace")
    assert "Traceback" not in output, output


def test_grpcserve_finishes_calls_in_flight_on_sigterm_exits_0_and_serves_metrics(auth_prod):
    from protos import auth_pb2, auth_pb2_grpc

    # given: the auth gRPC server with its metrics endpoint; hashing one password at a time,
    # so several sign-ups queue behind each other and are still running at the signal
    env, tmp = auth_prod
    log_path = tmp / "grpcserve.log"  # a file, not a pipe: a full pipe would block the server's exit
    port, metrics_port = free_port(), free_port()
    env = {
        **env,
        "GRPC_METRICS_PORT": str(metrics_port),
        "PASSWORD_HASH_CONCURRENCY": "1",
        "PASSWORD_HASH_MAX_WAITING": "3",
        "PASSWORD_HASH_MAX_PER_ADDRESS": "3",  # the three sign-ups below all come from loopback
        "PASSWORD_HASH_NICE": "0",  # a busy test machine would starve low-priority hashing
    }
    proc = subprocess.Popen(
        [PYTHON, "manage_auth.py", "grpcserve", f"127.0.0.1:{port}", "--grace", "20"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    channel = None
    try:
        wait_for_port(port, proc)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=15)
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        stub.SignUp(auth_pb2.UserCreateRequest(name="First", email="first@example.com", password="pa55-Word-long"))

        # and: the per-method counts are on the metrics port
        wait_for_port(metrics_port, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert (
            'grpc_server_handled_total{grpc_code="OK",grpc_method="SignUp",'
            'grpc_service="auth.AuthService",grpc_type="unary"} 1.0'
        ) in metrics

        # when: three sign-ups are in flight and SIGTERM arrives
        with ThreadPoolExecutor(3) as pool:
            calls = [
                pool.submit(
                    stub.SignUp,
                    auth_pb2.UserCreateRequest(name=f"U{i}", email=f"user{i}@example.com", password="pa55-Word-long"),
                    timeout=30,
                )
                for i in range(3)
            ]
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            replies = [call.result() for call in calls]

        # then: every call got its answer and the server exited 0
        assert [reply.user.email for reply in replies] == [f"user{i}@example.com" for i in range(3)]
        assert all(reply.HasField("tokens") for reply in replies)
        try:
            exit_code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:  # say where it hangs, for whoever reads the failure
            dump = subprocess.run(
                [str(Path(PYTHON).parent / "py-spy"), "dump", "--pid", str(proc.pid)], capture_output=True, text=True
            )
            where = f"{dump.stdout}{dump.stderr}\n{log_path.read_text()}"
            raise AssertionError(f"grpcserve did not exit:\n{where}") from None
        assert exit_code == 0
    finally:
        if channel is not None:
            channel.close()
        stop(proc)
    output = log_path.read_text(errors="replace")
    assert "grpc_server_stopped" in output, output
