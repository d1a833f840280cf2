"""The web page is tested against the real stack in subprocesses (``testkit.stack``)."""

from testkit.stack import stack  # noqa: F401 - the session fixture
