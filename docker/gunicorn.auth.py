"""gunicorn configuration of the auth service's REST app (WSGI).

    gunicorn -c docker/gunicorn.auth.py auth_site.wsgi:application

gthread workers: each request is short (Argon2 hashing is the slowest part, bounded by
PASSWORD_HASH_CONCURRENCY), so a few processes with a few threads each keep the CPU busy
without one connection per thread to the database (production settings pool them).

Environment (defaults in brackets): PORT [8081] or GUNICORN_BIND; WEB_CONCURRENCY [2]
worker processes; GUNICORN_THREADS [8]; GUNICORN_TIMEOUT [30] seconds a request may take
before its worker is restarted; GUNICORN_GRACEFUL_TIMEOUT [25] seconds in-flight requests
get after SIGTERM (keep it below the pod's terminationGracePeriodSeconds);
GUNICORN_KEEPALIVE [75] (longer than the ingress's upstream keep-alive, so the proxy, not
gunicorn, closes idle connections and no request lands on a closing socket);
GUNICORN_MAX_REQUESTS [2000] per worker before it is recycled; GUNICORN_ACCESS_LOG [false];
TRUSTED_PROXIES [empty] the proxies whose forwarding headers are believed.
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

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auth_site.settings.production")

wsgi_app = "auth_site.wsgi:application"
bind = bind_from_env(8081)
worker_class = "gthread"
workers = env_int("WEB_CONCURRENCY", 2, minimum=1)
threads = env_int("GUNICORN_THREADS", 8, minimum=1)  # more than hashing slots + waiters: reads stay served
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 25, minimum=0)
keepalive = env_int("GUNICORN_KEEPALIVE", 75, minimum=0)
max_requests = env_int("GUNICORN_MAX_REQUESTS", 2000, minimum=0)
max_requests_jitter = max_requests // 10
worker_tmp_dir = heartbeat_dir()
# TLS ends at the ingress; Django reads X-Forwarded-Proto itself (SECURE_PROXY_SSL_HEADER), and
# X-Forwarded-For only from TRUSTED_PROXIES (shared_apps/core/client_ip.py). Gunicorn trusts the same.
forwarded_allow_ips = trusted_proxies()
control_socket_disable = True  # nothing drives it, and the root filesystem is read-only
accesslog = access_log_target()
access_log_format = ACCESS_LOG_FORMAT
logger_class = JsonAccessLogger  # values escaped for JSON, so a client cannot forge a field or line
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "chat-ai-auth"

__all__ = ["child_exit", "on_starting"]
