"""The emails of the auth service: password-reset and verification links, their tokens, and
sending them.

**Tokens** are Django's ``PasswordResetTokenGenerator`` (an HMAC over the user's state and a
timestamp, keyed by ``SECRET_KEY``), prefixed with the user's id so that a link alone names its
account: ``<uidb64>.<timestamp>-<hmac>``. Nothing is stored.

* A password-reset token hashes the user's password hash (as Django's does), so it works once:
  setting the new password changes what it was made from. It expires after
  ``PASSWORD_RESET_TTL`` seconds.
* A verification token hashes the address it was sent to, so it verifies that address only, for
  ``EMAIL_VERIFICATION_TTL`` seconds; following it again is harmless.

**Sending** goes through Django's email framework (``EMAIL_URL``) on one background thread: the
request that asked answers without waiting for the mail server, so a reset request for a known
address takes as long as one for an unknown address, and a slow server holds no request. A send
that fails is logged (its kind and error, never the message) and not retried; the person asks again.
"""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode

import structlog
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import EmailMessage
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from shared_apps.accounts.models import User

logger = structlog.get_logger(__name__)

# <uidb64>.<timestamp in base 36>-<hmac in hex>; a UUID's text in base64 is 48 characters.
TOKEN_PATTERN = re.compile(r"^([A-Za-z0-9_-]{1,64})\.([0-9a-z]{1,13}-[0-9a-f]{1,128})$")
MAX_TOKEN_LENGTH = 256

# The pages behind the links (the account panel); each posts the token to the API.
PASSWORD_RESET_PATH = "/account/password/reset"
EMAIL_VERIFY_PATH = "/account/email/verify"


class _ExpiringTokens(PasswordResetTokenGenerator):
    """Django's generator with a lifetime of its own (Django's reads ``PASSWORD_RESET_TIMEOUT``)."""

    ttl_setting = ""

    def check_token(self, user: User | None, token: str | None) -> bool:
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token):
                break
        else:
            return False
        return 0 <= self._num_seconds(self._now()) - ts <= getattr(settings, self.ttl_setting)

    def make_token_issued(self, user: User, *, seconds_ago: int) -> str:
        """A token as it was issued ``seconds_ago`` (an expired one, for the tests)."""
        return self._make_token_with_timestamp(user, self._num_seconds(self._now()) - seconds_ago, self.secret)


class PasswordResetTokens(_ExpiringTokens):
    key_salt = "shared_apps.accounts.emails.PasswordResetTokens"
    ttl_setting = "PASSWORD_RESET_TTL"
    # Django's hash value: the id, the password hash, the last sign-in and the address. A new
    # password changes the hash, so a token works once.


class EmailVerificationTokens(_ExpiringTokens):
    key_salt = "shared_apps.accounts.emails.EmailVerificationTokens"
    ttl_setting = "EMAIL_VERIFICATION_TTL"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{user.pk}{timestamp}{user.email}"


password_reset_tokens = PasswordResetTokens()
email_verification_tokens = EmailVerificationTokens()


def link_token_make(*, user: User, generator: _ExpiringTokens) -> str:
    return f"{urlsafe_base64_encode(force_bytes(user.pk))}.{generator.make_token(user)}"


@dataclass(frozen=True)
class LinkToken:
    user_id: uuid.UUID
    token: str


def link_token_parse(raw: str) -> LinkToken | None:
    """The user id and Django token of ``<uidb64>.<token>``, or None when it is not of that form."""
    if not raw or len(raw) > MAX_TOKEN_LENGTH:
        return None
    match = TOKEN_PATTERN.match(raw)
    if match is None:
        return None
    try:
        user_id = uuid.UUID(force_str(urlsafe_base64_decode(match.group(1))))
    except (ValueError, UnicodeDecodeError):
        return None
    return LinkToken(user_id=user_id, token=match.group(2))


def _link(path: str, token: str) -> str:
    return f"{settings.PUBLIC_AUTH_URL}{path}?{urlencode({'token': token})}"


_sender: ThreadPoolExecutor | None = None
_sender_lock = threading.Lock()


def _mail_thread() -> ThreadPoolExecutor:
    global _sender
    if _sender is None:
        with _sender_lock:
            if _sender is None:
                _sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail")
    return _sender


def _deliver(message: EmailMessage, kind: str) -> None:
    try:
        message.send()
    except Exception as exc:  # noqa: BLE001 - any failure of the mail server is logged, never raised
        logger.warning("email_send_failed", kind=kind, error=type(exc).__name__)
        return
    logger.info("email_sent", kind=kind)


def _send(*, kind: str, to: str, subject: str, body: str) -> Future:
    message = EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[to])
    return _mail_thread().submit(_deliver, message, kind)


def password_reset_email_send(*, user: User) -> Future:
    token = link_token_make(user=user, generator=password_reset_tokens)
    minutes = max(1, settings.PASSWORD_RESET_TTL // 60)
    body = (
        "Someone asked to reset the password of your Chat AI account.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n"
        f"{_link(PASSWORD_RESET_PATH, token)}\n\n"
        "The link works once. If you did not ask, ignore this email: your password stays as it is.\n"
    )
    return _send(kind="password_reset", to=user.email, subject="Reset your Chat AI password", body=body)


def verification_email_send(*, user: User) -> Future:
    token = link_token_make(user=user, generator=email_verification_tokens)
    body = (
        "Confirm that this address belongs to your Chat AI account by opening this link:\n\n"
        f"{_link(EMAIL_VERIFY_PATH, token)}\n\n"
        "If you did not create an account, ignore this email.\n"
    )
    return _send(kind="email_verification", to=user.email, subject="Verify your email address", body=body)
