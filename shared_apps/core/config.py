"""Reading configuration from the environment.

A thin layer over django-environ whose only addition is the failure mode: a bad or
missing value raises ``ConfigError`` naming the variable, and the entry points
(``manage_*.py``, ``wsgi``/``asgi``) turn it into one line on stderr and exit 2,
so a misconfigured process never starts half-working.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()


class ConfigError(ImproperlyConfigured):
    """A configuration value is missing or invalid; the message names the variable."""


def _wrap(name: str, read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ConfigError:
        raise
    except ImproperlyConfigured as exc:
        raise ConfigError(f"{name} is required but not set") from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{name} has an invalid value: {exc}") from exc


def env_str(name: str, default: Any = environ.Env.NOTSET) -> str:
    return _wrap(name, lambda: env.str(name, default=default))


def env_bool(name: str, default: Any = environ.Env.NOTSET) -> bool:
    raw = os.environ.get(name)
    if raw is not None and raw.strip().lower() not in {
        "1",
        "0",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "",
    }:
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return _wrap(name, lambda: env.bool(name, default=default))


def env_int(name: str, default: Any = environ.Env.NOTSET, *, minimum: int | None = None) -> int:
    value = _wrap(name, lambda: env.int(name, default=default))
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: Any = environ.Env.NOTSET, *, minimum: float | None = None) -> float:
    value = _wrap(name, lambda: env.float(name, default=default))
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: Any = environ.Env.NOTSET) -> list[str]:
    return [item.strip() for item in _wrap(name, lambda: env.list(name, default=default)) if item.strip()]


def env_networks(name: str, default: Any = environ.Env.NOTSET) -> list[str]:
    """A comma-separated list of IP addresses or CIDR networks (host bits zero, as gunicorn's
    ``forwarded_allow_ips`` requires, so both read the same list the same way)."""
    entries = env_list(name, default)
    for entry in entries:
        try:
            ipaddress.ip_network(entry)
        except ValueError as exc:
            raise ConfigError(f"{name} must list IP addresses or CIDR networks: {exc}") from None
    return entries


def env_origins(name: str, default: Any = environ.Env.NOTSET) -> list[str]:
    """A non-empty comma-separated list of web origins (``https://host[:port]``, no path)."""
    origins = env_list(name, default)
    if not origins:
        raise ConfigError(f"{name} must list at least one origin")
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
            raise ConfigError(f"{name}: {origin!r} is not an origin (http[s]://host[:port])")
    return origins


def env_http_url(name: str, default: Any = environ.Env.NOTSET) -> str:
    """An ``http://`` or ``https://`` URL, without a trailing slash."""
    url = env_str(name, default).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {url!r}")
    return url


EMAIL_SCHEMES = ("smtp", "smtps", "smtp+tls", "smtp+ssl", "consolemail", "filemail", "memorymail", "dummymail")


def env_email(name: str, default: Any = environ.Env.NOTSET) -> dict[str, Any]:
    """An email URL (``smtp://host:port``, ``smtp+tls://user:pass@host:587``, ``consolemail://``)
    as Django's ``EMAIL_*`` settings. The message never repeats the URL (it may hold a password)."""
    raw = os.environ.get(name, "").strip()
    if not raw and default is environ.Env.NOTSET:
        raise ConfigError(f"{name} is required but not set")
    url = raw or default
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in EMAIL_SCHEMES:
        raise ConfigError(
            f"{name} must be an email URL ({', '.join(s + '://' for s in EMAIL_SCHEMES)}), got scheme {scheme!r}"
        )
    try:
        config = environ.Env.email_url_config(url)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ConfigError(f"{name} is not a valid email URL") from exc
    return {key: value for key, value in config.items() if value is not None}


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


SUPPORTED_DB_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")
# SQLite serves several threads (gRPC workers) at once: writers wait for the lock instead of
# failing with "database is locked", and a transaction takes the write lock when it begins,
# so two transactions never deadlock upgrading their read locks.
SQLITE_OPTIONS = {"timeout": 20, "transaction_mode": "IMMEDIATE"}


def env_database(name: str, default_sqlite: Path) -> dict[str, Any]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        default_sqlite.parent.mkdir(parents=True, exist_ok=True)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(default_sqlite), "OPTIONS": dict(SQLITE_OPTIONS)}
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme not in SUPPORTED_DB_SCHEMES:
        raise ConfigError(f"{name} must be a postgres:// or sqlite:// URL, got scheme {scheme!r}")
    config = _wrap(name, lambda: env.db_url(name))
    if config["ENGINE"].endswith("sqlite3") and not config.get("NAME"):
        raise ConfigError(f"{name} names no SQLite file")
    if config["ENGINE"].endswith("sqlite3"):
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
    if "postgresql" in config["ENGINE"] and not config.get("NAME"):
        raise ConfigError(f"{name} names no database")
    return config


def env_redis_url(name: str) -> str | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name} must be a redis:// or rediss:// URL")
    return raw


def settings_or_exit(settings_module: str) -> None:
    """Import the settings module now, so a ConfigError is one clear line, not a traceback."""
    import importlib

    try:
        importlib.import_module(settings_module)
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        raise SystemExit(2) from None
