"""``manage_auth.py grpcserve`` as a real process: starts, answers health, drains on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from protos import auth_pb2, auth_pb2_grpc
from shared_apps.core.tests.conftest import ROOT, child_env, free_port

SLOW_CALL_SECONDS = 1.5


def test_grpcserve_serves_and_drains_on_sigterm(tmp_path):
    # given
    address = f"127.0.0.1:{free_port()}"
    env = child_env(
        DJANGO_SETTINGS_MODULE="shared_apps.core.tests.grpcserve_settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'grpcserve.sqlite3'}",
    )
    process = subprocess.Popen(
        [sys.executable, "manage_auth.py", "grpcserve", address, "--grace", "10"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening" in process.stdout.readline()
        channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(channel).result(timeout=10)
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING

        stub = auth_pb2_grpc.AuthServiceStub(channel)
        outcome: dict = {}

        def slow_call() -> None:
            try:
                outcome["response"] = stub.ValidateToken(
                    auth_pb2.ValidateTokenRequest(token="x"),
                    metadata=(("x-test-sleep", str(SLOW_CALL_SECONDS)),),
                    timeout=15,
                )
            except grpc.RpcError as exc:
                outcome["error"] = exc

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(0.5)  # the call is now sleeping inside the server

        # when
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=20)
        caller.join(timeout=5)

        # then
        assert returncode == 0, process.stderr.read()
        assert "error" not in outcome, outcome.get("error")
        assert outcome["response"].valid is False
        assert time.monotonic() - started >= SLOW_CALL_SECONDS - 0.5 - 0.2  # it waited for the call
        channel.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
