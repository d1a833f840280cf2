"""``grpcserve [ADDRESS]``: run this site's gRPC server until SIGTERM/SIGINT, then drain.

On a signal the health services report NOT_SERVING, the server stops accepting new
calls, in-flight calls get ``GRPC_GRACE_SECONDS`` to finish, and the process exits 0.
"""

from __future__ import annotations

import os
import signal
import threading

import structlog
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

logger = structlog.get_logger("grpcserve")


class Command(BaseCommand):
    help = "Run this site's gRPC server (graceful shutdown on SIGTERM/SIGINT)."
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("address", nargs="?", default=None, help="host:port, e.g. 127.0.0.1:8080 or [::]:8080")
        parser.add_argument("--max-workers", type=int, default=None)
        parser.add_argument("--grace", type=float, default=None, help="seconds in-flight calls may take to finish")

    def handle(self, *args, **options) -> None:
        from shared_apps.core.grpc_server.server import build_server

        multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if multiproc_dir:
            # In multiprocess mode every metric write goes to a file here; a missing directory
            # would fail every call, so make sure it exists.
            os.makedirs(multiproc_dir, exist_ok=True)

        address = options["address"] or settings.GRPC_DEFAULT_ADDRESS
        grace = options["grace"] if options["grace"] is not None else settings.GRPC_GRACE_SECONDS
        self.check(display_num_errors=False)
        server, state = build_server(options["max_workers"])
        try:
            port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise CommandError(f"cannot listen on {address}: {exc}") from exc
        if port == 0:
            raise CommandError(f"cannot listen on {address}")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        on_start = getattr(settings, "GRPC_ON_START", None)
        if on_start:
            from django.utils.module_loading import import_string

            import_string(on_start)()
        _metrics_endpoint_start(settings.GRPC_METRICS_PORT)
        server.start()
        state.set_serving(True)
        self.stdout.write(f"gRPC server listening on {address}", ending="\n")
        self.stdout.flush()
        logger.info("grpc_server_started", address=address, port=port)
        # Wake up now and then: the kernel may deliver SIGTERM to one of the server's threads,
        # and Python only runs the handler when the main thread gets to run bytecode; an
        # untimed wait could sleep through the signal for ever.
        while not stop.wait(timeout=0.5):
            pass
        logger.info("grpc_server_stopping", grace_seconds=grace)
        state.set_serving(False)
        on_stop = getattr(settings, "GRPC_ON_STOP", None)
        if on_stop:
            from django.utils.module_loading import import_string

            import_string(on_stop)(grace)
        server.stop(grace).wait()
        logger.info("grpc_server_stopped")


# --- metrics endpoint -----------------------------------------------------------------------
def _metrics_endpoint_start(port: int) -> None:
    """Serve the Prometheus registry (``grpc_server_*`` from the metrics interceptor) on
    ``GRPC_METRICS_PORT``, all interfaces, in a daemon thread; 0 serves nothing."""
    if not port:
        return
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus_client is in multiprocess mode (the variable is meant for gunicorn but may be
        # inherited): this process's values live in files there, so serve them from there.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    try:
        start_http_server(port, registry=registry)
    except OSError as exc:
        raise CommandError(f"cannot serve metrics on port {port} (GRPC_METRICS_PORT): {exc}") from exc
    logger.info("grpc_metrics_serving", port=port)
