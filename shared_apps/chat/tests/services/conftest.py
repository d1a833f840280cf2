"""Service-level tests of the chat app: plain function calls on the test database and the
default cache. No subprocess, no server, no auth service: a user is only a UUID here."""

from __future__ import annotations

import uuid

import pytest

from shared_apps.chat import limits
from shared_apps.chat.models import Conversation
from shared_apps.chat.tests.factories import ConversationFactory

# The start of a UTC day (so also of a minute), far from today: limits count per minute and per day.
DAY_START = 1_900_000_000 // limits.DAY * limits.DAY


class FrozenClock:
    """Stands in for the ``time`` module inside ``limits``: the time stays put until moved."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _chat_settings(settings):
    """The settings these tests rely on, whatever the environment says."""
    settings.CHAT_PROVIDER = "local"
    settings.CHAT_MODEL = "gpt-4o-mini"
    settings.CHAT_ALLOWED_MODELS = ["gpt-4o-mini", "fake-model"]
    settings.CHAT_SYSTEM_PROMPT = ""
    settings.CHAT_CONTEXT_TOKENS = 8000
    settings.CHAT_MAX_MESSAGE_CHARS = 32000
    settings.CHAT_MAX_OUTPUT_TOKENS = 4096
    settings.CHAT_RATE_MESSAGES_PER_MINUTE = 30
    settings.CHAT_RATE_TOKENS_PER_DAY = 1_000_000


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    """Freeze the limits' clock 15 s into a UTC day, so no test straddles a minute."""
    frozen = FrozenClock(DAY_START + 15)
    monkeypatch.setattr(limits, "time", frozen)
    return frozen


@pytest.fixture
def user_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def other_user_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def conversation(db, user_id) -> Conversation:
    return ConversationFactory(user_id=user_id)
