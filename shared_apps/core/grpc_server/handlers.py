"""Wrapping a gRPC method handler's behaviour, whatever its cardinality.

grpcio's ``ServerInterceptor`` hands us an ``RpcMethodHandler``; to run code around
the call we rebuild the handler with a wrapped behaviour. Streaming responses are
generators, so the wrapper must also run around their iteration, not just their creation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc

Behaviour = Callable[[Any, grpc.ServicerContext], Any]
# (behaviour, request, context, streaming) -> result; for streaming the result is an iterator
Around = Callable[[Behaviour, Any, grpc.ServicerContext, bool], Any]


def wrap_handler(handler: grpc.RpcMethodHandler | None, around: Around) -> grpc.RpcMethodHandler | None:
    if handler is None:
        return None
    if handler.unary_unary:
        behaviour, factory, streaming = handler.unary_unary, grpc.unary_unary_rpc_method_handler, False
    elif handler.unary_stream:
        behaviour, factory, streaming = handler.unary_stream, grpc.unary_stream_rpc_method_handler, True
    elif handler.stream_unary:
        behaviour, factory, streaming = handler.stream_unary, grpc.stream_unary_rpc_method_handler, False
    else:
        behaviour, factory, streaming = handler.stream_stream, grpc.stream_stream_rpc_method_handler, True

    def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
        return around(behaviour, request, context, streaming)

    return factory(
        wrapped,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def iterate_around(
    iterator: Iterator[Any], before: Callable[[], None], after: Callable[[BaseException | None], None]
) -> Iterator[Any]:
    """Yield from ``iterator`` with ``before``/``after`` around the whole iteration."""
    before()
    error: BaseException | None = None
    try:
        yield from iterator
    except BaseException as exc:
        error = exc
        raise
    finally:
        after(error)


def lazy_stream(behaviour: Behaviour, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
    """Call a streaming behaviour only when iteration starts (after any set-up ran, and
    inside any timing)."""
    yield from behaviour(request, context)


def call_observed(
    behaviour: Behaviour,
    request: Any,
    context: grpc.ServicerContext,
    streaming: bool,
    finish: Callable[[BaseException | None], None],
) -> Any:
    """Run a call, or a stream's whole iteration, then ``finish(error)`` (None on success)."""
    if streaming:
        return iterate_around(lazy_stream(behaviour, request, context), lambda: None, finish)
    error: BaseException | None = None
    try:
        return behaviour(request, context)
    except BaseException as exc:
        error = exc
        raise
    finally:
        finish(error)
