"""A real SMTP server on loopback (aiosmtpd) that the auth service sends its emails to in the
tests, and helpers to read what arrived (the link's token above all)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Received:
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    @property
    def link(self) -> str:
        links = LINK.findall(self.body)
        assert len(links) == 1, self.body
        return links[0]

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.link).query)["token"][0]


class Inbox:
    """The SMTP handler: keeps every message; ``delay`` holds each DATA command that long."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.delay = 0.0
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.received.append(Received(recipients=tuple(envelope.rcpt_tos), message=message))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self._changed:
            return [r for r in self.received if address in r.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """The first ``count`` messages to ``address``, waiting up to ``timeout`` for them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len([r for r in self.received if address in r.recipients]) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{count} email(s) to {address} did not arrive: {self.received}"
                self._changed.wait(left)
            return [r for r in self.received if address in r.recipients][:count]

    def token_for(self, address: str, index: int = 0) -> str:
        return self.wait_for(address, count=index + 1)[index].token

    def settle(self, seconds: float = 0.3) -> None:
        """Give a send that should not happen the time to happen (the mail thread is asynchronous)."""
        time.sleep(seconds)


def smtp_server_start(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox
