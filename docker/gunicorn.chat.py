"""gunicorn configuration of the chat service's ASGI app (HTTP and websockets).

    gunicorn -c docker/gunicorn.chat.py chat_site.asgi:application

Uvicorn workers from the ``uvicorn-worker`` package (``uvicorn.workers`` is deprecated in the
pinned uvicorn). A websocket or a streamed reply lives as long as the client wants, so:

- ``timeout`` is only the worker heartbeat (the event loop notifies gunicorn), never a
  request deadline; long streams are fine.
- On SIGTERM a worker stops accepting, and open websockets and streams get
  ``UVICORN_GRACEFUL_SHUTDOWN`` seconds to finish before uvicorn closes them (clients then
  reconnect to another pod); gunicorn kills a worker that is still alive after
  ``GUNICORN_GRACEFUL_TIMEOUT``. Keep both below the pod's terminationGracePeriodSeconds.

Workers: each is a whole event loop with its own replies. With REDIS_URL set, any worker (and
any pod) resumes any reply from the Redis mirror of its log, so WEB_CONCURRENCY defaults to
the CPUs this process may run on; without Redis a reply can be followed only in the worker
that produces it, so the default is 1 and more is refused.

Environment (defaults in brackets): PORT [8083] or GUNICORN_BIND; WEB_CONCURRENCY [the CPUs
with REDIS_URL, else 1];
GUNICORN_TIMEOUT [60]; GUNICORN_GRACEFUL_TIMEOUT [45]; UVICORN_GRACEFUL_SHUTDOWN [30];
GUNICORN_KEEPALIVE [75]; WS_PING_INTERVAL [20] and WS_PING_TIMEOUT [20] seconds (keeps
idle websockets alive through proxies, and finds dead peers); WS_MAX_SIZE [1048576] bytes (above the app's own
CHAT_WS_MAX_FRAME_BYTES, so the app answers an oversized frame with its own error);
GUNICORN_ACCESS_LOG [false]; TRUSTED_PROXIES [empty] the proxies whose forwarding headers are believed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gunicorn_common import (  # noqa: E402
    ACCESS_LOG_FORMAT,
    JsonAccessLogger,
    access_log_target,
    bind_from_env,
    child_exit,
    env_int,
    heartbeat_dir,
    on_starting,
    trusted_proxies,
)
from uvicorn_worker import UvicornWorker  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_site.settings.production")


class ChatUvicornWorker(UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "auto",
        "http": "auto",
        "ws": "auto",  # the websockets package (requirements/chat.txt)
        "lifespan": "on",  # shutdown drains replies in flight (shared_apps/chat/lifecycle.py)
        "ws_ping_interval": float(env_int("WS_PING_INTERVAL", 20, minimum=1)),
        "ws_ping_timeout": float(env_int("WS_PING_TIMEOUT", 20, minimum=1)),
        "ws_max_size": env_int("WS_MAX_SIZE", 1024 * 1024, minimum=1024),
        "timeout_graceful_shutdown": env_int("UVICORN_GRACEFUL_SHUTDOWN", 30, minimum=0),
        "proxy_headers": True,
    }


wsgi_app = "chat_site.asgi:application"
bind = bind_from_env(8083)
worker_class = ChatUvicornWorker
_redis = bool(os.environ.get("REDIS_URL", "").strip())
workers = env_int("WEB_CONCURRENCY", len(os.sched_getaffinity(0)) if _redis else 1, minimum=1)
if workers > 1 and not _redis:
    sys.exit(
        "configuration error: WEB_CONCURRENCY above 1 needs REDIS_URL (workers resume each other's replies "
        "through Redis)"
    )
timeout = env_int("GUNICORN_TIMEOUT", 60, minimum=1)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 45, minimum=0)
keepalive = env_int("GUNICORN_KEEPALIVE", 75, minimum=0)
max_requests = 0  # recycling a worker would cut its websockets; memory is watched by the pod limit
worker_tmp_dir = heartbeat_dir()
# uvicorn (proxy_headers) takes the client address and scheme from X-Forwarded-* only when the
# peer is one of TRUSTED_PROXIES, the list the Django settings trust.
forwarded_allow_ips = trusted_proxies()
control_socket_disable = True
accesslog = access_log_target()
access_log_format = ACCESS_LOG_FORMAT
logger_class = JsonAccessLogger  # values escaped for JSON, so a client cannot forge a field or line
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "chat-ai-chat"

__all__ = ["child_exit", "on_starting"]
