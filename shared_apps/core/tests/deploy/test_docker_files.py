"""docker/: the compose file parses and points at files that exist, starts in a health-gated
order, and sets only variables the code reads; gunicorn loads both config files."""

from __future__ import annotations

import importlib.util
import subprocess

import pytest
import yaml

from .manifests import env_names_read
from .support import ROOT, VENV_BIN

COMPOSE = ROOT / "docker" / "compose.yaml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_builds_from_files_that_exist(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            context = (COMPOSE.parent / service["build"]["context"]).resolve()
            assert context == ROOT, name
            assert (context / service["build"]["dockerfile"]).is_file()
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).is_file(), volume
            else:
                assert source in compose["volumes"], volume
        for word in service.get("command", []) + service.get("healthcheck", {}).get("test", []):
            if word.endswith(".py"):
                assert (ROOT / word).is_file(), word
    assert (ROOT / ".dockerignore").is_file()
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    for copied in (
        "docker/gunicorn.auth.py",
        "docker/gunicorn.chat.py",
        "docker/gunicorn_common.py",
        "docker/healthcheck.py",
        "manage_auth.py",
        "manage_chat.py",
    ):
        assert copied in dockerfile and (ROOT / copied).is_file()


def test_tests_and_test_tools_stay_out_of_the_image():
    # given what the Dockerfile copies and what .dockerignore leaves out of the build context
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    copied = [
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for source in [word for word in line.split()[1:-1] if not word.startswith("--")]
    ]
    # then no test package inside a copied tree reaches the image, and no test tool is copied
    assert "**/tests" in ignored
    assert {"testkit", "bench"} <= ignored
    assert not any(source.rstrip("/") in (".", "testkit", "bench", "chatctl") for source in copied), copied


def test_compose_starts_in_a_health_gated_order(compose):
    services = compose["services"]
    apps = {"auth-rest", "auth-grpc", "chat-asgi", "chat-grpc"}
    assert apps | {"postgres", "redis", "auth-migrate", "chat-migrate"} <= set(services)
    for migrate in ("auth-migrate", "chat-migrate"):
        assert services[migrate]["depends_on"]["postgres"] == {"condition": "service_healthy"}
        assert services[migrate]["restart"] == "no"
    for app in apps:
        depends = services[app]["depends_on"]
        migrate = f"{app.split('-')[0]}-migrate"
        assert depends[migrate] == {"condition": "service_completed_successfully"}
        assert all(d["condition"] in ("service_healthy", "service_completed_successfully") for d in depends.values())
        assert services[app]["healthcheck"]["test"][:3] == ["CMD", "python", "docker/healthcheck.py"]
    for chat in ("chat-asgi", "chat-grpc"):
        assert services[chat]["depends_on"]["auth-grpc"] == {"condition": "service_healthy"}


# The longest each server may take to stop gracefully (its own defaults), which compose must wait for
# before it kills the container.
GRACEFUL_SECONDS = {"auth-rest": 25, "chat-asgi": 45, "auth-grpc": 20, "chat-grpc": 30}


def _seconds(duration: str) -> float:
    return float(duration.removesuffix("s")) if duration.endswith("s") and duration[-2].isdigit() else 0.0


def test_compose_waits_for_graceful_stops_and_publishes_on_loopback_only(compose):
    services = compose["services"]
    for name, graceful in GRACEFUL_SECONDS.items():
        assert _seconds(services[name].get("stop_grace_period", "10s")) > graceful, name
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    # PostgreSQL is healthy only when it answers over TCP (the init-time server listens on the socket only)
    postgres_check = " ".join(services["postgres"]["healthcheck"]["test"])
    assert postgres_check.count("-h 127.0.0.1") == postgres_check.count("pg_isready") > 0


def test_compose_sets_only_variables_the_code_reads(compose):
    read = env_names_read()
    for name, service in compose["services"].items():
        if "build" not in service:
            continue  # postgres and redis read their own
        unread = set(service.get("environment", {})) - read
        assert not unread, f"{name} sets {sorted(unread)}"


def gunicorn_check(config: str, app: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "gunicorn"), "--check-config", "-c", config, app],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gunicorn_loads_the_auth_config_and_app_with_production_settings(auth_prod):
    env, _ = auth_prod
    result = gunicorn_check("docker/gunicorn.auth.py", "auth_site.wsgi:application", env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gunicorn_loads_the_chat_config_and_its_uvicorn_worker(auth_prod):
    env, _ = auth_prod
    result = gunicorn_check(
        "docker/gunicorn.chat.py",
        "shared_apps.core.tests.deploy.standin_asgi:application",
        {**env, "DJANGO_SETTINGS_MODULE": "chat_site.settings.production"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gunicorn_loads_the_chat_app_with_production_settings(auth_prod):
    if importlib.util.find_spec("shared_apps.chat.ws_api.routing") is None:
        pytest.skip("chat_site.asgi imports shared_apps.chat.ws_api.routing, which is not written yet")
    env, tmp = auth_prod
    chat_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "chat_site.settings.production",
        "DATABASE_URL": f"sqlite:///{tmp / 'chat.sqlite3'}",
        "CHAT_WS_ALLOWED_ORIGINS": "https://chat.example.com",
        "CHAT_AUTH_PUBLIC_URL": "https://auth.example.com",
    }
    result = gunicorn_check("docker/gunicorn.chat.py", "chat_site.asgi:application", chat_env)
    assert result.returncode == 0, result.stdout + result.stderr
