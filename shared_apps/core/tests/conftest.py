"""Helpers to run ``manage_auth.py`` as a separate process with a chosen environment."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
# Variables of the test process that must not leak into a child started with its own configuration.
SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_ALGORITHM",
    "JWT_SIGNING_KEY",
    "JWT_VERIFYING_KEY",
    "JWT_PREVIOUS_SIGNING_KEYS",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_SETTINGS_MODULE",
    "AUTH_CORS_ALLOWED_ORIGINS",
    "CHAT_AUTH_PUBLIC_URL",
    "CHAT_WS_ALLOWED_ORIGINS",
    "AUTH_SERVICE_TOKEN",
    "PUBLIC_AUTH_URL",
    "EMAIL_URL",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update({k: v for k, v in overrides.items() if v is not None})
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 60, site: str = "auth") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, f"manage_{site}.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    """A complete, good production environment."""
    return {
        "DJANGO_SETTINGS_MODULE": "auth_site.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "auth.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
        "AUTH_CORS_ALLOWED_ORIGINS": "https://chat.example.com",
        "PUBLIC_AUTH_URL": "https://auth.example.com",
        "EMAIL_URL": "smtp+tls://mailer:pw@smtp.example.com:587",
        "AUTH_SERVICE_TOKEN": secrets.token_urlsafe(32),
    }


@pytest.fixture
def chat_production_env(tmp_path) -> dict[str, str]:
    """A complete, good production environment of the chat service (HS256, like compose)."""
    return {
        "DJANGO_SETTINGS_MODULE": "chat_site.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "chat.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'chat-prod.sqlite3'}",
        "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
        "CHAT_WS_ALLOWED_ORIGINS": "https://chat.example.com",
        "CHAT_AUTH_PUBLIC_URL": "https://auth.example.com",
        "AUTH_SERVICE_TOKEN": secrets.token_urlsafe(32),
    }
