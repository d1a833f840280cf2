"""Client tests run against the real stack in subprocesses (see ``stack.py``)."""

from shared_apps.chat.tests.clients.stack import stack  # noqa: F401 - the session fixture
