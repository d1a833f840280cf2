"""Fixtures of the deployment tests: a migrated production SQLite database of the auth service."""

from __future__ import annotations

import subprocess

import pytest

from .support import PYTHON, ROOT, auth_production_env


@pytest.fixture(scope="module")
def auth_prod(tmp_path_factory):
    """(env, tmp dir): production settings of the auth service over a migrated SQLite file."""
    tmp = tmp_path_factory.mktemp("auth-prod")
    env = auth_production_env(tmp)
    result = subprocess.run(
        [PYTHON, "manage_auth.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return env, tmp
