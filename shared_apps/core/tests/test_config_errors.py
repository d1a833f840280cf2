"""A misconfiguration stops start-up with one line naming the variable, exit status 2."""

from __future__ import annotations

import pytest

from shared_apps.core.tests.conftest import child_env, manage


@pytest.mark.parametrize(
    "variable, value",
    [
        ("DATABASE_URL", "mysql://user@host/db"),
        ("DATABASE_URL", "postgres://"),
        ("JWT_ALGORITHM", "HS512"),
        ("REDIS_URL", "http://127.0.0.1:6379/0"),
        ("JWT_ACCESS_TTL", "soon"),
    ],
)
def test_bad_variable_is_one_line_and_exit_2(variable, value):
    # when
    result = manage("check", env=child_env(DJANGO_SETTINGS_MODULE="auth_site.settings.local", **{variable: value}))
    # then
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_good_default_configuration_passes_check():
    # when
    result = manage("check", env=child_env(DJANGO_SETTINGS_MODULE="auth_site.settings.local"))
    # then
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
