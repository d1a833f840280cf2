"""The errors ``chatctl`` reports: one line each, saying what to do."""

from __future__ import annotations

import click


class ChatctlError(click.ClickException):
    exit_code = 1


class ServiceUnreachable(ChatctlError):
    def __init__(self, service: str, url: str, reason: object) -> None:
        super().__init__(f"cannot reach the {service} service at {url} ({reason})")


class NotSignedIn(ChatctlError):
    exit_code = 2

    def __init__(self, message: str = "not signed in: run `chatctl signin` (or `chatctl signup`)") -> None:
        super().__init__(message)


class SessionExpired(NotSignedIn):
    def __init__(self) -> None:
        super().__init__("your session has expired or was ended: run `chatctl signin`")


class ApiError(ChatctlError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})" if status else f"{message} ({code})")
        self.status = status
        self.code = code
