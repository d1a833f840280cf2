"""What a model provider is: an async stream of events for one completion request.

Providers raise only domain errors (``UpstreamError`` 502, ``UpstreamTimeout`` 504,
``ServiceUnavailable`` 503), so every transport maps them the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PromptMessage:
    role: str
    content: str


@dataclass(frozen=True)
class CompletionRequest:
    model: str
    messages: list[PromptMessage]
    temperature: float | None = None
    max_tokens: int | None = None
    request_id: str | None = None
    user_id: str | None = None
    purpose: str = "reply"  # or "title": a conversation's title (prompts.title_prompt_build)


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Finish:
    reason: str
    model: str = ""


ProviderEvent = Delta | Usage | Finish


class ModelProvider(Protocol):
    """Constructed with no arguments (from its dotted path in ``CHAT_PROVIDERS``); reads its
    own settings."""

    name: str

    @property
    def max_silence_seconds(self) -> float:
        """The longest a healthy stream of this provider stays silent (before its first
        delta or between two); a reply whose stored progress is older than this (plus a
        margin) has lost its producer."""

    def model_name(self, requested: str) -> str:
        """The model name the reply is attributed to (``model_used``)."""

    def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]:
        """Yield deltas, then usage and the finish reason (in any order after the deltas)."""
