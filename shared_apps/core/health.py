"""Liveness, readiness and the seed's health endpoint, shared by both sites."""

from __future__ import annotations

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET


def dependencies_ready() -> dict[str, str]:
    """Probe the database and, when configured, Redis. Values are "ok" or an error class name."""
    checks: dict[str, str] = {}
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = type(exc).__name__
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = type(exc).__name__
    return checks


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = dependencies_ready()
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


@require_GET
def seed_health(request: HttpRequest) -> JsonResponse:
    checks = dependencies_ready()
    serving = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "SERVING" if serving else "NOT_SERVING"}, status=200 if serving else 503)


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    # The seed's health route, at both of its paths.
    path("health", seed_health, name="health-root"),
    path("v1/health", seed_health, name="health"),
]
