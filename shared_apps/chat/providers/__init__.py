"""Model providers: ``openai`` (the official SDK, any OpenAI-compatible server) and ``local``."""

from __future__ import annotations

from django.conf import settings

from shared_apps.chat.providers.base import ModelProvider


def provider_get() -> ModelProvider:
    if settings.CHAT_PROVIDER == "local":
        from shared_apps.chat.providers.local import LocalProvider

        return LocalProvider(delay_seconds=settings.CHAT_LOCAL_DELAY_SECONDS)
    from shared_apps.chat.providers.openai_provider import OpenAIProvider

    return OpenAIProvider()


def provider_warm_up() -> None:
    """Import the provider's client library at process start (the ``openai`` SDK takes about
    a second to import) so the first reply of a process does not pay for it."""
    if settings.CHAT_PROVIDER == "openai":
        import shared_apps.chat.providers.openai_provider  # noqa: F401
