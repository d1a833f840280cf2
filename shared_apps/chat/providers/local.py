"""``local``: the offline stand-in, so the stack runs with no key and no network.

It answers deterministically, streams word by word and names itself ``local-echo``. A title
request is answered with the first words of the conversation's first message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from django.conf import settings

from shared_apps.chat.prompts import title_from_content
from shared_apps.chat.providers.base import CompletionRequest, Delta, Finish, ProviderEvent, Usage

LOCAL_MODEL = "local-echo"


def approx_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


class LocalProvider:
    name = "local"

    def __init__(self, delay_seconds: float | None = None) -> None:
        # CHAT_LOCAL_DELAY_SECONDS: the pause before each word, as a slow model would pace it.
        self.delay_seconds = settings.CHAT_LOCAL_DELAY_SECONDS if delay_seconds is None else delay_seconds

    @property
    def max_silence_seconds(self) -> float:
        return self.delay_seconds + 1.0

    def model_name(self, requested: str) -> str:
        return LOCAL_MODEL

    @staticmethod
    def answer(request: CompletionRequest) -> str:
        if request.purpose == "title":
            first = next((m.content for m in request.messages if m.role == "user"), "")
            return title_from_content(first)
        last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        turns = sum(1 for m in request.messages if m.role == "user")
        hint = "set OPENAI_API_KEY or OPENAI_BASE_URL for a real model"
        return f"You said: {last.strip()} (local-echo, turn {turns}; {hint})"

    async def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]:
        text = self.answer(request)
        words = text.split(" ")
        limit = request.max_tokens or len(words)
        for index, word in enumerate(words[:limit]):
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            yield Delta(word if index == 0 else " " + word)
        prompt = sum(approx_tokens(m.content) for m in request.messages)
        completion = min(len(words), limit)
        yield Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
        yield Finish(reason="stop" if limit >= len(words) else "length", model=LOCAL_MODEL)
