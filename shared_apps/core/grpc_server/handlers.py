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


class _Undecodable:
    """What a unary request that is not the declared protobuf message decodes to."""

    def __repr__(self) -> str:
        return "<undecodable request>"


UNDECODABLE = _Undecodable()
UNDECODABLE_DETAILS = "The request is not a valid protobuf message of the method's request type."


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """A deserializer that answers ``UNDECODABLE`` instead of raising: grpcio answers a
    deserializer's exception with INTERNAL ("Exception deserializing request!") before any
    interceptor runs, though bytes that are not the message are the client's mistake."""
    if deserializer is None or getattr(deserializer, "tolerant", False):
        return deserializer

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError and anything a parser raises
            return UNDECODABLE

    deserialize.tolerant = True  # type: ignore[attr-defined]
    return deserialize


def wrap_handler(handler: grpc.RpcMethodHandler | None, around: Around) -> grpc.RpcMethodHandler | None:
    """The handler with ``around`` run around its behaviour. For a unary request, bytes that
    do not decode reach the innermost wrapper (inside every interceptor, so the call is
    logged and mapped like any other) and end there with INVALID_ARGUMENT."""
    if handler is None:
        return None
    unary_request = False
    if handler.unary_unary:
        behaviour, factory, streaming = handler.unary_unary, grpc.unary_unary_rpc_method_handler, False
        unary_request = True
    elif handler.unary_stream:
        behaviour, factory, streaming = handler.unary_stream, grpc.unary_stream_rpc_method_handler, True
        unary_request = True
    elif handler.stream_unary:
        behaviour, factory, streaming = handler.stream_unary, grpc.stream_unary_rpc_method_handler, False
    else:
        behaviour, factory, streaming = handler.stream_stream, grpc.stream_stream_rpc_method_handler, True
    innermost = not getattr(behaviour, "wrapped_behaviour", False)

    def refuse_undecodable(_request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, UNDECODABLE_DETAILS)

    def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
        if innermost and request is UNDECODABLE:
            return around(refuse_undecodable, request, context, False)
        return around(behaviour, request, context, streaming)

    wrapped.wrapped_behaviour = True  # type: ignore[attr-defined]
    deserializer = _tolerant(handler.request_deserializer) if unary_request else handler.request_deserializer
    return factory(
        wrapped,
        request_deserializer=deserializer,
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
