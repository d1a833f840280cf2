"""``release_test_database`` (run before pytest-django drops the test database) leaves no
session on it: connections this process opened on helper threads are closed, and a session
another process still holds is ended and reported. PostgreSQL only (CI's database), since only
PostgreSQL refuses to drop a database in use."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from asgiref.sync import SyncToAsync
from django.contrib.auth import get_user_model
from django.db import connection

from shared_apps.core.testing import release_test_database

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)"
    ),
]


def sessions(application_name: str | None = None) -> list[int]:
    """Backend pids of the other sessions on the test database (optionally with that name)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND (%s::text IS NULL OR application_name = %s)",
            [application_name, application_name],
        )
        return [pid for (pid,) in cursor.fetchall()]


def test_a_connection_left_open_on_a_helper_thread_is_closed():
    # given: an ORM call on asgiref's long-lived sync_to_async thread, which nothing closes
    def query() -> int:
        get_user_model().objects.count()
        return connection.connection.info.backend_pid

    leaked = SyncToAsync.single_thread_executor.submit(query).result(timeout=10)
    assert leaked in sessions()
    # when
    ended = release_test_database(wait_seconds=0)
    # then: closed from here, not ended as another process's
    assert ended == []
    assert leaked not in sessions()


def test_a_session_of_another_process_is_ended_and_reported():
    # given: another process connected to the test database that does not go away
    db = connection.settings_dict
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import psycopg, sys, time\n"
            "c = psycopg.connect(host=sys.argv[1], port=sys.argv[2], user=sys.argv[3], dbname=sys.argv[4],"
            " application_name='stray-holder')\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
            db.get("HOST") or "127.0.0.1",
            str(db.get("PORT") or 5432),
            db.get("USER") or "postgres",
            db["NAME"],
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert sessions("stray-holder")
        # when
        started = time.monotonic()
        ended = release_test_database(wait_seconds=0.5)
        # then
        assert time.monotonic() - started < 10
        assert len(ended) == 1 and "'stray-holder'" in ended[0]
        assert not sessions("stray-holder")
    finally:
        holder.kill()
        holder.wait(timeout=10)
