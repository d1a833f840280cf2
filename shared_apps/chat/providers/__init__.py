"""Model providers, registered by name in ``CHAT_PROVIDERS`` (dotted paths to classes).

``CHAT_PROVIDER`` picks one. A provider class takes no arguments and reads its own settings
(the ``openai`` provider its ``OPENAI_*`` timeouts and key); nothing outside the provider
reads them. See ``base.ModelProvider`` for what a provider is.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from shared_apps.chat.providers.base import ModelProvider


def provider_class() -> type[ModelProvider]:
    return import_string(settings.CHAT_PROVIDERS[settings.CHAT_PROVIDER])


def provider_get() -> ModelProvider:
    return provider_class()()


def provider_warm_up() -> None:
    """Import the provider at process start (the ``openai`` SDK takes about a second to
    import) so the first reply of a process does not pay for it."""
    provider_class()
