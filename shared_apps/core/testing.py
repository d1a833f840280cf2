"""Helpers only the test settings use."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with a tiny cost, for the test suite only."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1


def release_test_database(alias: str = "default", wait_seconds: float = 5.0) -> list[str]:
    """Make the test database droppable; call it just before pytest-django destroys it.

    PostgreSQL refuses ``DROP DATABASE`` while any session uses it ("database is being
    accessed by other users"), and Django closes only the connections of request cycles and of
    the thread that tears down. Connections opened by ORM calls on helper threads (asgiref's
    sync_to_async executor, ``asyncio.to_thread``, server threads) stay open after the test that
    made them. So: close every connection this process still holds, wherever it was opened;
    then give other processes' sessions (server subprocesses still exiting) ``wait_seconds``
    to end, and end the ones that remain. Returns a description of each session that had to be
    ended that way (a process that outlived its test: worth a warning).
    """
    import contextlib
    import gc
    import time

    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    connections.close_all()
    gc.collect()  # wrappers of finished threads that only reference cycles keep alive
    for wrapper in gc.get_objects():
        # type(), not isinstance(): isinstance() on a dead weak proxy raises ReferenceError
        if issubclass(type(wrapper), BaseDatabaseWrapper) and wrapper.connection is not None:
            with contextlib.suppress(Exception):  # opened on another thread: close the driver's connection
                wrapper.connection.close()
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return []
    query = (
        "SELECT pid, application_name, client_addr, client_port FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()"
    )
    name = connection.settings_dict["NAME"]
    with connection._nodb_cursor() as cursor:  # the maintenance database, not a session on this one
        deadline = time.monotonic() + wait_seconds
        while True:
            cursor.execute(query, [name])
            others = cursor.fetchall()
            if not others or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        for pid, *_ in others:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        # pg_terminate_backend only signals; the backend leaves pg_stat_activity moments later
        deadline = time.monotonic() + 5
        while others and time.monotonic() < deadline:
            cursor.execute(query, [name])
            if not cursor.fetchall():
                break
            time.sleep(0.05)
    connection.close()
    return [f"backend {pid} (application {app or '-'!r}, client {addr}:{port})" for pid, app, addr, port in others]
