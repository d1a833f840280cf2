"""``openai``: any OpenAI-compatible chat completions API through the official SDK.

The SDK's async client streams with usage. Its own retries (``OPENAI_MAX_RETRIES``) only
happen while the request is being made, before any delta exists, so a reply is never
retried after its first delta reached a client. Timeouts: connect, first token
(``OPENAI_FIRST_TOKEN_TIMEOUT``) and the idle gap between chunks
(``OPENAI_IDLE_TIMEOUT``; the SDK's default read timeout is 600 s), enforced here
around every read so a stalled stream always ends.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator

import openai
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
        client = openai.AsyncOpenAI(
            api_key=settings.OPENAI_API_KEY or "not-needed",
            base_url=settings.OPENAI_BASE_URL or None,
            max_retries=settings.OPENAI_MAX_RETRIES,
            timeout=openai.Timeout(
                connect=settings.OPENAI_CONNECT_TIMEOUT,
                read=settings.OPENAI_IDLE_TIMEOUT,
                write=10.0,
                pool=settings.OPENAI_CONNECT_TIMEOUT,
            ),
        )
        _clients[loop] = client
    return client


def reset_clients() -> None:
    _clients.clear()


class OpenAIProvider:
    name = "openai"

    @property
    def max_silence_seconds(self) -> float:
        return max(settings.OPENAI_FIRST_TOKEN_TIMEOUT, settings.OPENAI_IDLE_TIMEOUT)

    def model_name(self, requested: str) -> str:
        return requested

    async def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]:
        client = _client()
        params: dict = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        headers = {"X-Request-ID": request.request_id} if request.request_id else None
        finished = False
        try:
            stream = await asyncio.wait_for(
                client.chat.completions.create(**params, extra_headers=headers),
                timeout=settings.OPENAI_FIRST_TOKEN_TIMEOUT,
            )
            iterator = stream.__aiter__()
            timeout = settings.OPENAI_FIRST_TOKEN_TIMEOUT
            try:
                while True:
                    try:
                        chunk = await asyncio.wait_for(iterator.__anext__(), timeout=timeout)
                    except StopAsyncIteration:
                        break
                    timeout = settings.OPENAI_IDLE_TIMEOUT
                    if chunk.usage is not None:
                        yield Usage(
                            prompt_tokens=chunk.usage.prompt_tokens or 0,
                            completion_tokens=chunk.usage.completion_tokens or 0,
                            total_tokens=chunk.usage.total_tokens or 0,
                        )
                    for choice in chunk.choices or ():
                        if choice.delta is not None and choice.delta.content:
                            yield Delta(choice.delta.content)
                        if choice.finish_reason:
                            finished = True
                            yield Finish(reason=choice.finish_reason, model=chunk.model or request.model)
            finally:
                await stream.close()
        except (TimeoutError, openai.APITimeoutError) as exc:
            logger.warning("upstream_timeout", model=request.model)
            raise UpstreamTimeout("The model API timed out.") from exc
        except openai.RateLimitError as exc:
            logger.warning("upstream_rate_limited", model=request.model)
            raise UpstreamError("The model API is rate limiting us; try again shortly.") from exc
        except openai.APIStatusError as exc:
            logger.warning("upstream_http_error", model=request.model, status=exc.status_code)
            raise UpstreamError(f"The model API answered with HTTP {exc.status_code}.") from exc
        except openai.APIConnectionError as exc:
            logger.warning("upstream_unreachable", model=request.model, error=type(exc).__name__)
            raise UpstreamError("The model API could not be reached or broke off.") from exc
        except (openai.OpenAIError, ValueError, KeyError, TypeError) as exc:
            logger.warning("upstream_malformed", model=request.model, error=type(exc).__name__)
            raise UpstreamError("The model API sent a malformed reply.") from exc
        if not finished:
            raise UpstreamError("The model API stream ended before the reply was finished.")
