"""The chat ASGI app's process lifecycle.

* Every connection binds the server's event loop as this process's reply loop, so
  replies started from sync code (REST views) run on it, beside the sockets.
* ASGI lifespan: on startup (and in ``grpcserve``), the sweep of expired reply leases
  starts (``leases``: the replies of processes that died are closed as failed). On shutdown
  (after the server stopped accepting and gave open connections their grace period),
  replies still in flight get ``CHAT_SHUTDOWN_GRACE_SECONDS`` to finish; the rest are
  cancelled and stored as ``cancelled``, never lost. Their clients resume on another process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from django.conf import settings

from shared_apps.chat import async_bridge, leases
from shared_apps.chat.providers import provider_warm_up

logger = structlog.get_logger(__name__)


class ChatLifecycleMiddleware:
    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        async_bridge.bind_loop(asyncio.get_running_loop())
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.app(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        from shared_apps.chat.reply_producer import replies_drain

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                async_bridge.db_executor_install(asyncio.get_running_loop())
                provider_warm_up()
                leases.sweeper_start()  # close the replies of processes that died, now and periodically
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                leases.sweeper_stop()
                try:
                    await replies_drain(settings.CHAT_SHUTDOWN_GRACE_SECONDS)
                except Exception:  # noqa: BLE001 - still report completion; the error is logged
                    logger.exception("replies_drain_failed")
                await send({"type": "lifespan.shutdown.complete"})
                return


def grpc_process_start() -> None:
    """``grpcserve``'s GRPC_ON_START hook for the chat site."""
    from shared_apps.authn.revocation import revocation_feed_start

    revocation_feed_start()
    provider_warm_up()
    leases.sweeper_start()
