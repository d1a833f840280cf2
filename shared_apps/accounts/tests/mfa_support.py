"""Helpers of the two-factor and API key tests: an authenticator app, a user with two-factor on."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp

from shared_apps.accounts import mfa
from shared_apps.accounts.models import User


def totp_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What the user's authenticator app shows now (or that many 30-second steps later)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def wrong_code(secret: str) -> str:
    """A six-digit code that is not right for any step the server accepts now."""
    right = {totp_code(secret, steps_ahead=k) for k in (-1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(123456, 999999, 7919)) if c not in right)


@dataclass(frozen=True)
class TwoFactor:
    secret: str
    recovery_codes: list[str]


def two_factor_on(user: User) -> TwoFactor:
    """Turn two-factor on for ``user`` as the user would: setup, then confirm with a code.
    The confirming code is of the previous step, so the tests' fresh codes (now, next) are newer."""
    setup = mfa.totp_setup(user_id=user.id)
    codes = mfa.totp_confirm(user_id=user.id, code=totp_code(setup.secret, steps_ahead=-1))
    return TwoFactor(secret=setup.secret, recovery_codes=codes)
