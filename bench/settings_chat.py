"""The chat service exactly as in production (json logs, pooled PostgreSQL), plus the
bench-only baseline views of ``bench.urls_chat``. Used only by the bench harness."""

from chat_site.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.urls_chat"
