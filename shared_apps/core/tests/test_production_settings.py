"""Production settings: ``check --deploy`` passes with a good environment and refuses a bad one."""

from __future__ import annotations

import pytest

from shared_apps.core.settings_common import DEV_AUTH_SERVICE_TOKEN, DEV_JWT_SIGNING_KEY
from shared_apps.core.tests.conftest import child_env, manage


def test_check_deploy_passes_with_good_environment(production_env):
    # when
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=child_env(**production_env))
    # then
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "variable, value",
    [
        ("DJANGO_SECRET_KEY", None),
        ("DJANGO_SECRET_KEY", "too-short"),
        ("DJANGO_ALLOWED_HOSTS", None),
        ("DATABASE_URL", None),
        ("JWT_SIGNING_KEY", None),
        ("JWT_SIGNING_KEY", DEV_JWT_SIGNING_KEY),
        ("JWT_SIGNING_KEY", "x" * 31),
        ("JWT_SIGNING_KEY", "same-as-secret"),
        # A token forged with the development key (it is in the source) must verify nowhere.
        ("JWT_PREVIOUS_SIGNING_KEYS", DEV_JWT_SIGNING_KEY),
        ("JWT_PREVIOUS_SIGNING_KEYS", f"{'o' * 40},{DEV_JWT_SIGNING_KEY}"),
        ("JWT_PREVIOUS_SIGNING_KEYS", "x" * 31),
        ("JWT_VERIFYING_KEY", DEV_JWT_SIGNING_KEY),
        # Without it production allowed the development origins (http://127.0.0.1:8083) to call /v1/auth/*.
        ("AUTH_CORS_ALLOWED_ORIGINS", None),
        ("AUTH_CORS_ALLOWED_ORIGINS", ""),
        ("AUTH_CORS_ALLOWED_ORIGINS", "chat.example.com"),
        # Without a service credential anyone could read the revocation feed.
        ("AUTH_SERVICE_TOKEN", None),
        ("AUTH_SERVICE_TOKEN", DEV_AUTH_SERVICE_TOKEN),
        ("AUTH_SERVICE_TOKEN", "s" * 31),
        ("AUTH_SERVICE_TOKEN", "same-as-secret"),
        # Without them links in emails pointed at the development address, and the emails
        # (reset links and all) were printed to the log stream.
        ("PUBLIC_AUTH_URL", None),
        ("PUBLIC_AUTH_URL", "auth.example.com"),
        ("EMAIL_URL", None),
        ("EMAIL_URL", "mailto://x"),
    ],
)
def test_bad_production_variable_is_one_line_and_exit_2(production_env, variable, value):
    # given
    env = dict(production_env)
    if value == "same-as-secret":
        value = env["DJANGO_SECRET_KEY"]
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    # when
    result = manage("check", "--deploy", env=child_env(**env))
    # then
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]


def test_chat_check_deploy_passes_with_good_environment(chat_production_env):
    # when
    result = manage("check", env=child_env(**chat_production_env), site="chat")
    # then
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "variable, value",
    [
        ("JWT_SIGNING_KEY", DEV_JWT_SIGNING_KEY),
        ("JWT_PREVIOUS_SIGNING_KEYS", DEV_JWT_SIGNING_KEY),
        ("JWT_PREVIOUS_SIGNING_KEYS", f"{'o' * 40},{DEV_JWT_SIGNING_KEY}"),
        ("JWT_PREVIOUS_SIGNING_KEYS", "x" * 31),
        ("JWT_VERIFYING_KEY", DEV_JWT_SIGNING_KEY),
        # Without it the web page sent passwords to the development address of the auth service.
        ("CHAT_AUTH_PUBLIC_URL", None),
        ("CHAT_AUTH_PUBLIC_URL", "auth.example.com"),
        ("AUTH_SERVICE_TOKEN", None),
        ("AUTH_SERVICE_TOKEN", DEV_AUTH_SERVICE_TOKEN),
    ],
)
def test_chat_bad_production_variable_is_one_line_and_exit_2(chat_production_env, variable, value):
    # given the chat service's production environment with one bad or missing variable
    env = dict(chat_production_env)
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    # when
    result = manage("check", env=child_env(**env), site="chat")
    # then
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
