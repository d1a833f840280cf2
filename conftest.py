"""Fixtures shared by both sites' test runs."""

from __future__ import annotations

import grpc
import pytest

from testkit.processes import free_port


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def grpc_channel(transactional_db):
    """A real gRPC server of this site (all interceptors, health, reflection) on a free
    loopback port, and a channel to it. Transactional DB: the server's threads use their
    own connections, so they must see committed data."""
    from shared_apps.core.grpc_server.server import build_server

    server, state = build_server(max_workers=8)
    port = server.add_insecure_port(f"127.0.0.1:{free_port()}")
    server.start()
    state.set_serving(True)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=10)
    yield channel
    channel.close()
    server.stop(0).wait()
