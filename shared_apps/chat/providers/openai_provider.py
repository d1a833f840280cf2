"""``openai``: any OpenAI-compatible chat completions API through the official SDK.

The SDK makes the request: key, base URL, headers, its retries (``OPENAI_MAX_RETRIES``,
only while the request is being made, before any delta exists, so a reply is never retried
after its first delta reached a client) and its error classes for non-2xx answers. The
stream itself is read raw (``with_streaming_response``) and its server-sent events parsed
here with orjson: the SDK's object stream builds a pydantic model per chunk, about twenty
times the CPU of reading the bytes and parsing the JSON, and a relay pays that per token.

The HTTP transport is the SDK's aiohttp client (``OPENAI_HTTP_CLIENT``, default ``aiohttp``;
``httpx`` for the SDK's default): each chunk of a paced stream is one read, and aiohttp's C
parser and stream reader take about half the CPU of httpx's pure-Python layers per read. Its
errors reach us as httpx errors (the SDK maps them), so the handling below serves both.

Timeouts: the first chunk must arrive within ``OPENAI_FIRST_TOKEN_TIMEOUT`` of the request
(connect included, ``OPENAI_CONNECT_TIMEOUT`` for the socket alone), then no gap between two
chunks may exceed ``OPENAI_IDLE_TIMEOUT``. One ``asyncio.timeout`` deadline is moved forward
after each chunk (no task per read), and lifted while this generator is suspended at a
``yield``, so it can only fire while the upstream is being awaited.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import orjson
import structlog
from django.conf import settings

from shared_apps.chat.providers.base import CompletionRequest, Delta, Finish, ProviderEvent, Usage
from shared_apps.core.errors import ServiceUnavailable, UpstreamError, UpstreamTimeout

logger = structlog.get_logger(__name__)

# httpx clients belong to the event loop they were created on: one client per loop.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = weakref.WeakKeyDictionary()


def _client() -> openai.AsyncOpenAI:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        if not settings.OPENAI_API_KEY and not settings.OPENAI_BASE_URL:
            raise ServiceUnavailable("No model provider is configured (set OPENAI_API_KEY or OPENAI_BASE_URL).")
        timeout = openai.Timeout(
            connect=settings.OPENAI_CONNECT_TIMEOUT,
            read=settings.OPENAI_IDLE_TIMEOUT,
            write=10.0,
            pool=settings.OPENAI_CONNECT_TIMEOUT,
        )
        client = openai.AsyncOpenAI(
            api_key=settings.OPENAI_API_KEY or "not-needed",
            base_url=settings.OPENAI_BASE_URL or None,
            max_retries=settings.OPENAI_MAX_RETRIES,
            timeout=timeout,
            http_client=openai.DefaultAioHttpClient(timeout=timeout)
            if settings.OPENAI_HTTP_CLIENT == "aiohttp"
            else None,
        )
        _clients[loop] = client
    return client


def reset_clients() -> None:
    _clients.clear()


class UpstreamReported(Exception):
    """The stream carried an ``error`` event instead of a chunk."""


def chunk_events(chunk: Any, fallback_model: str) -> list[ProviderEvent]:
    """The events of one ``chat.completion.chunk`` (already parsed). Raises TypeError,
    AttributeError or KeyError on a chunk of the wrong shape."""
    if "error" in chunk:
        error = chunk["error"]
        raise UpstreamReported(error.get("message", "") if isinstance(error, dict) else str(error))
    events: list[ProviderEvent] = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta")
        if delta:
            content = delta.get("content")
            if content:
                if not isinstance(content, str):
                    raise TypeError("delta content is not a string")
                events.append(Delta(content))
        reason = choice.get("finish_reason")
        if reason:
            events.append(Finish(reason=str(reason), model=chunk.get("model") or fallback_model))
    usage = chunk.get("usage")
    if usage:
        events.append(
            Usage(
                prompt_tokens=usage.get("prompt_tokens") or 0,
                completion_tokens=usage.get("completion_tokens") or 0,
                total_tokens=usage.get("total_tokens") or 0,
            )
        )
    return events


class OpenAIProvider:
    name = "openai"

    @property
    def max_silence_seconds(self) -> float:
        return max(settings.OPENAI_FIRST_TOKEN_TIMEOUT, settings.OPENAI_IDLE_TIMEOUT)

    def model_name(self, requested: str) -> str:
        return requested

    @staticmethod
    def _params(request: CompletionRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if request.request_id:
            params["extra_headers"] = {"X-Request-ID": request.request_id}
        return params

    async def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]:
        client = _client()
        loop = asyncio.get_running_loop()
        finished = False
        try:
            async with asyncio.timeout(settings.OPENAI_FIRST_TOKEN_TIMEOUT) as deadline:
                create = client.chat.completions.with_streaming_response.create
                async with create(**self._params(request)) as response:
                    chunks = response.http_response.aiter_bytes()
                    pending = b""
                    while True:
                        try:
                            data = await anext(chunks)
                        except StopAsyncIteration:
                            break
                        deadline.reschedule(None)  # no deadline while the reader holds a yield
                        *lines, pending = (pending + data).split(b"\n")
                        for line in lines:
                            if not line.startswith(b"data:"):
                                continue  # blank separators, comments, event:/id: fields
                            payload = line[5:].strip()
                            if payload == b"[DONE]":
                                continue
                            for event in chunk_events(orjson.loads(payload), request.model):
                                if isinstance(event, Finish):
                                    finished = True
                                yield event
                        deadline.reschedule(loop.time() + settings.OPENAI_IDLE_TIMEOUT)
        except (TimeoutError, openai.APITimeoutError, httpx2.TimeoutException) as exc:
            logger.warning("upstream_timeout", model=request.model)
            raise UpstreamTimeout("The model API timed out.") from exc
        except openai.RateLimitError as exc:
            logger.warning("upstream_rate_limited", model=request.model)
            raise UpstreamError("The model API is rate limiting us; try again shortly.") from exc
        except openai.APIStatusError as exc:
            logger.warning("upstream_http_error", model=request.model, status=exc.status_code)
            raise UpstreamError(f"The model API answered with HTTP {exc.status_code}.") from exc
        except (openai.APIConnectionError, httpx2.TransportError) as exc:
            logger.warning("upstream_unreachable", model=request.model, error=type(exc).__name__)
            raise UpstreamError("The model API could not be reached or broke off.") from exc
        except UpstreamReported as exc:
            logger.warning("upstream_error_event", model=request.model)
            raise UpstreamError("The model API reported an error mid-reply.") from exc
        except (openai.OpenAIError, httpx2.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("upstream_malformed", model=request.model, error=type(exc).__name__)
            raise UpstreamError("The model API sent a malformed reply.") from exc
        if not finished:
            raise UpstreamError("The model API stream ended before the reply was finished.")
