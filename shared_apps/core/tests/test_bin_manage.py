"""``bin/manage SITE COMMAND...`` runs the site's manage_*.py in .venv without an activated venv.

Run the way a newcomer would: from another directory, with a PATH that has no .venv in it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess

import pytest

from .conftest import ROOT, child_env

MANAGE = ROOT / "bin" / "manage"


@pytest.fixture
def outside_env() -> dict[str, str]:
    """No venv active: the system PATH only, none of the test run's configuration."""
    stamp = ROOT / ".venv" / ".requirements.sha"
    if not stamp.is_file():
        pytest.skip("no .venv/.requirements.sha: bin/manage would create .venv first")
    env = child_env()
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if ".venv" not in p)
    return env


def run(*args: str, env: dict[str, str], cwd, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(MANAGE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_without_a_site_prints_the_usage_and_fails(outside_env, tmp_path):
    # when
    done = run(env=outside_env, cwd=tmp_path)
    # then
    assert done.returncode == 2
    assert "bin/manage auth createsuperuser" in done.stderr
    assert "bin/manage chat migrate" in done.stderr


def test_unknown_site_is_refused(outside_env, tmp_path):
    done = run("billing", "migrate", env=outside_env, cwd=tmp_path)
    assert done.returncode == 2
    assert "usage" in done.stderr.lower() or "bin/manage auth" in done.stderr


def test_auth_createsuperuser_works_without_an_active_venv(outside_env, tmp_path):
    # given: the auth site's database (not the default under var/)
    database = tmp_path / "auth.sqlite3"
    env = {**outside_env, "DATABASE_URL": f"sqlite:///{database}"}
    migrated = run("auth", "migrate", "--no-input", "-v0", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    # when
    created = run(
        "auth",
        "createsuperuser",
        "--noinput",
        "--email",
        "ada@example.com",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": "correct horse battery"},
        cwd=tmp_path,
    )
    # then
    assert created.returncode == 0, created.stderr
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT email, is_staff, is_superuser FROM accounts_user").fetchall()
    assert rows == [("ada@example.com", 1, 1)]


def test_chat_runs_manage_chat(outside_env, tmp_path):
    database = tmp_path / "chat.sqlite3"
    done = run(
        "chat", "showmigrations", "chat", env={**outside_env, "DATABASE_URL": f"sqlite:///{database}"}, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "0001_initial" in done.stdout
