"""Reply leases: a reply whose process died (``kill -9``, out of memory, a lost node) does not
stay ``streaming`` until some reader happens by.

A streaming reply carries ``lease_expires_at`` (``CHAT_REPLY_LEASE_SECONDS`` ahead). The process
producing it keeps it alive: every progress save renews it, and while the process has replies in
flight it renews all of their leases at once every third of a lease (one UPDATE, since a model
may stay silent for longer than a lease). Every chat process sweeps: when it starts (ASGI
lifespan, ``grpcserve``) and then every third of a lease, it closes the replies whose lease ran
out as ``failed`` with what was stored (error code ``reply_interrupted``) and publishes
``reply_finished`` to their conversations (``services.replies_lease_expired_close``; one query
on a partial index over streaming rows when there is nothing to close). A reply is thus closed
within about a lease and a third of its process's death.

Both loops run on the process's reply loop (``async_bridge``); the renewer starts with the
process's first reply and does nothing (no query) while no reply is in flight.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import threading
import uuid

import structlog
from django.conf import settings

from shared_apps.chat import async_bridge, services
from shared_apps.chat.async_bridge import db

logger = structlog.get_logger(__name__)

_producing: set[uuid.UUID] = set()  # the replies this process produces (any of its loops)
_lock = threading.Lock()
_renewer: concurrent.futures.Future | None = None
_sweeper: concurrent.futures.Future | None = None


def _every() -> float:
    return settings.CHAT_REPLY_LEASE_SECONDS / 3


def _running(future: concurrent.futures.Future | None) -> bool:
    return future is not None and not future.done()


# --- renewing this process's leases -----------------------------------------------------------------


def producing_add(message_id: uuid.UUID) -> None:
    """A reply this process now produces: its lease is renewed until ``producing_discard``."""
    global _renewer
    _producing.add(message_id)
    if not _running(_renewer):
        with _lock:
            if not _running(_renewer):
                _renewer = async_bridge.submit(_renew_forever())


def producing_discard(message_id: uuid.UUID) -> None:
    _producing.discard(message_id)


async def _renew_forever() -> None:
    while True:
        await asyncio.sleep(_every())
        message_ids = list(_producing)
        if not message_ids:
            continue
        try:
            await db(services.reply_leases_renew)(message_ids=message_ids)
        except Exception as exc:  # noqa: BLE001 - the next round tries again; progress saves renew too
            logger.warning("reply_leases_renew_failed", replies=len(message_ids), error=type(exc).__name__)


# --- closing the replies of dead processes ----------------------------------------------------------


def sweeper_start() -> None:
    """Sweep expired leases now and then every third of a lease, on the reply loop (idempotent)."""
    global _sweeper
    with _lock:
        if not _running(_sweeper):
            _sweeper = async_bridge.submit(_sweep_forever())


def sweeper_stop() -> None:
    global _sweeper
    with _lock:
        if _sweeper is not None:
            _sweeper.cancel()
        _sweeper = None


async def _sweep_forever() -> None:
    while True:
        try:
            closed = await db(services.replies_lease_expired_close)()
            if closed:
                logger.warning("replies_interrupted_closed", count=len(closed))
        except Exception as exc:  # noqa: BLE001 - e.g. the database away: sweep again next round
            logger.warning("reply_lease_sweep_failed", error=type(exc).__name__)
        # Jitter: the processes of a deployment do not all sweep at the same instant.
        await asyncio.sleep(_every() * random.uniform(0.8, 1.2))  # noqa: S311 - not for security
