"""Prometheus metrics of a gRPC server: calls started and handled per method, the status
code each call ended with, and how long it took.

Enabled through the ``GRPC_EXTRA_INTERCEPTORS`` settings hook, so it sits just inside the
correlation-id interceptor and outside error mapping and authentication: it sees the final
status code a client receives, including UNAUTHENTICATED and mapped domain errors.

Names and labels follow the conventions of go-grpc-prometheus (``grpc_server_*`` with
``grpc_service``, ``grpc_method``, ``grpc_type`` and ``grpc_code``), so dashboards and
alerts written for the Go platform keep working. For streaming RPCs the latency is the
length of the whole stream.

The metrics live in the default registry; ``grpcserve`` exposes it on ``GRPC_METRICS_PORT``.
"""

from __future__ import annotations

import time

import grpc
from prometheus_client import Counter, Gauge, Histogram

from shared_apps.core.grpc_server.handlers import call_observed, wrap_handler

LABELS = ("grpc_service", "grpc_method", "grpc_type")

# Seconds; up to five minutes because streams (StreamChatWithAI) are measured end to end.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

STARTED = Counter("grpc_server_started_total", "RPCs started on the server.", LABELS)
HANDLED = Counter("grpc_server_handled_total", "RPCs completed on the server, by status code.", (*LABELS, "grpc_code"))
HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its status, in seconds.",
    LABELS,
    buckets=LATENCY_BUCKETS,
)
IN_PROGRESS = Gauge("grpc_server_in_progress", "RPCs being handled right now.", LABELS)


def method_labels(full_method: str, handler: grpc.RpcMethodHandler) -> tuple[str, str, str]:
    """``/auth.AuthService/SignIn`` -> ("auth.AuthService", "SignIn", "unary")."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    if handler.request_streaming and handler.response_streaming:
        kind = "bidi_stream"
    elif handler.request_streaming:
        kind = "client_stream"
    elif handler.response_streaming:
        kind = "server_stream"
    else:
        kind = "unary"
    return service, method, kind


def final_code(context: grpc.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The status code the call ended with, as the client sees it."""
    code = context.code() if callable(getattr(context, "code", None)) else None
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(error, GeneratorExit) or _cancelled(context):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN if error is not None else grpc.StatusCode.OK


def _cancelled(context: grpc.ServicerContext) -> bool:
    try:
        return bool(context.cancelled())  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a context without cancelled() is not cancelled
        return False


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts and times every call that reaches a registered method."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:  # unknown method: grpcio answers UNIMPLEMENTED itself
            return None
        labels = method_labels(handler_call_details.method, handler)

        def start() -> float:
            STARTED.labels(*labels).inc()
            IN_PROGRESS.labels(*labels).inc()
            return time.perf_counter()

        def finish(context: grpc.ServicerContext, started: float, error: BaseException | None) -> None:
            IN_PROGRESS.labels(*labels).dec()
            HANDLING_SECONDS.labels(*labels).observe(time.perf_counter() - started)
            HANDLED.labels(*labels, final_code(context, error).name).inc()

        def around(behaviour, request, context, streaming):
            started = start()
            return call_observed(behaviour, request, context, streaming, lambda e: finish(context, started, e))

        return wrap_handler(handler, around)
