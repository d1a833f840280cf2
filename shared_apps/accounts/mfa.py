"""Two-factor sign-in with an authenticator app (TOTP, RFC 6238): setting it up, confirming
it, turning it off, and the second step of sign-in.

* ``totp_setup`` stores a new secret (encrypted, ``secret_box``) that counts for nothing until
  ``totp_confirm`` sees a code from it; confirming answers ten single-use recovery codes,
  stored hashed with the password hashers and never shown again.
* A user with confirmed two-factor signs in in two steps: the password (``services.user_signin``)
  answers an ``mfa_token`` instead of tokens (``mfa_challenge_create``); ``user_signin_mfa``
  takes that token and a TOTP code or a recovery code and opens the session. An mfa_token
  lives ``MFA_TOKEN_TTL_SECONDS``, works once and takes at most ``MFA_MAX_ATTEMPTS_PER_TOKEN``
  codes (counted before each is checked, so parallel guesses get no more); wrong codes also
  count per account (``mfa_throttle``).
* A TOTP code is accepted for the current 30-second step and one either side (clock skew),
  and once only: the device keeps the newest step accepted, and a code of that step or an
  older one is refused (RFC 6238 section 5.2), by a compare-and-set so two parallel uses of
  one code cannot both pass.

No secret, code or token is logged; log lines carry user ids only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from shared_apps.accounts import services
from shared_apps.accounts.mfa_throttle import mfa_failure_record, mfa_success_record, mfa_throttle_check
from shared_apps.accounts.models import MfaChallenge, RecoveryCode, TotpDevice, User
from shared_apps.accounts.passwords import hash_callers, password_check, password_hash, password_hash_matches
from shared_apps.accounts.secret_box import SecretUnreadable, secret_decrypt, secret_encrypt
from shared_apps.core.errors import AlreadyExists, NotAuthenticated, ServiceUnavailable, ValidationFailed

logger = structlog.get_logger(__name__)

TOTP_DIGITS = 6
TOTP_INTERVAL = 30
TOTP_VALID_WINDOW = 1  # steps either side of now
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
RECOVERY_CODE_LENGTH = 10  # ~49 bits each, shown as xxxxx-xxxxx
MAX_CODE_LENGTH = 64
TOTP_CODE = re.compile(r"^[0-9]{6}$")
BAD_MFA_TOKEN = "The two-factor sign-in has expired or was already used; sign in again."
BAD_CODE = "Invalid two-factor code."


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str


@dataclass(frozen=True)
class MfaRequired:
    """What sign-in answers for an account with two-factor: no tokens, a token for step two."""

    mfa_token: str
    expires_at: datetime
    mfa_required: bool = True


@dataclass(frozen=True)
class TotpStatus:
    enabled: bool
    pending: bool
    confirmed_at: datetime | None
    recovery_codes_left: int


# --- reads ---------------------------------------------------------------------------------------


def totp_is_active(*, user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def totp_status(*, user: User) -> TotpStatus:
    device = TotpDevice.objects.filter(user=user).first()
    left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
    return TotpStatus(
        enabled=bool(device and device.is_active),
        pending=bool(device and not device.is_active),
        confirmed_at=device.confirmed_at if device else None,
        recovery_codes_left=left if device and device.is_active else 0,
    )


# --- setup ---------------------------------------------------------------------------------------


def _user_active(user_id: uuid.UUID) -> User:
    user = User.objects.filter(id=user_id, is_active=True).first()
    if user is None:
        raise NotAuthenticated("Session has ended; sign in again.")
    return user


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


def totp_setup(*, user_id: uuid.UUID) -> TotpSetup:
    """Start (or restart) setting up two-factor: a new secret, inactive until confirmed."""
    user = _user_active(user_id)
    secret = pyotp.random_base32()  # 160 bits, the RFC 4226 recommendation
    with transaction.atomic():  # the row locked, so a confirm running now is not overwritten
        device = TotpDevice.objects.select_for_update().filter(user=user).first()
        if device is not None and device.is_active:
            raise AlreadyExists("Two-factor sign-in is already on; turn it off first to set up a new authenticator.")
        TotpDevice.objects.update_or_create(
            user=user,
            defaults={"secret_encrypted": secret_encrypt(secret), "confirmed_at": None, "last_used_step": 0},
        )
    logger.info("totp_setup_started", user_id=str(user.id))
    uri = _totp(secret).provisioning_uri(name=user.email, issuer_name=settings.MFA_TOTP_ISSUER)
    return TotpSetup(secret=secret, otpauth_uri=uri)


def _code_clean(code: str) -> str:
    return "".join((code or "")[:MAX_CODE_LENGTH].split()).replace("-", "").lower()


def _totp_step_matching(device: TotpDevice, code: str) -> int | None:
    """The time step ``code`` is right for (now, or one either side), else None."""
    if not TOTP_CODE.match(code):
        return None
    try:
        totp = _totp(secret_decrypt(device.secret_encrypted))
    except SecretUnreadable as exc:  # MFA_ENCRYPTION_KEY (or SECRET_KEY) changed without the old one
        logger.error("totp_secret_unreadable", user_id=str(device.user_id))
        raise ServiceUnavailable("Two-factor codes cannot be checked right now.") from exc
    now_step = int(time.time()) // TOTP_INTERVAL
    matched = None
    for step in range(now_step - TOTP_VALID_WINDOW, now_step + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):  # every step compared: no early exit
            matched = step
    return matched


def _totp_code_accept(device: TotpDevice, code: str) -> bool:
    """Whether ``code`` is right and newer than every code accepted before; marks it used."""
    step = _totp_step_matching(device, code)
    if step is None:
        return False
    # Compare-and-set: of two uses of one code (or a use of an older one), at most one passes.
    return bool(TotpDevice.objects.filter(pk=device.pk, last_used_step__lt=step).update(last_used_step=step))


def _recovery_codes_new(user: User, client_ip: str | None) -> list[str]:
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    callers = hash_callers(email=user.email, client_ip=client_ip)
    hashes = [password_hash(code, callers=callers) for code in codes]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=h) for h in hashes])
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def totp_confirm(*, user_id: uuid.UUID, code: str, client_ip: str | None = None) -> list[str]:
    """Turn two-factor on with a first code from the authenticator; answers the recovery codes."""
    user = _user_active(user_id)
    device = TotpDevice.objects.filter(user=user).first()
    if device is None:
        raise ValidationFailed("No two-factor setup to confirm; call setup first.")
    if device.is_active:
        raise AlreadyExists("Two-factor sign-in is already on.")
    mfa_throttle_check(user_id=str(user.id))
    if not _totp_code_accept(device, _code_clean(code)):
        mfa_failure_record(user_id=str(user.id))
        raise ValidationFailed(f"code: {BAD_CODE}", details={"code": [BAD_CODE]})
    mfa_success_record(user_id=str(user.id))
    with transaction.atomic():
        codes = _recovery_codes_new(user, client_ip)
        TotpDevice.objects.filter(pk=device.pk).update(confirmed_at=timezone.now())
    logger.info("totp_enabled", user_id=str(user.id))
    return codes


def totp_reset(*, user: User) -> bool:
    """Turn two-factor off with no questions (staff, in the admin). Returns whether it was on
    or being set up."""
    with transaction.atomic():
        deleted, _ = TotpDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        MfaChallenge.objects.filter(user=user).delete()
    if deleted:
        logger.info("totp_disabled", user_id=str(user.id))
    return bool(deleted)


def totp_disable(*, user_id: uuid.UUID, password: str, client_ip: str | None = None) -> None:
    """Turn two-factor off; the account's password is required. Idempotent."""
    user = _user_active(user_id)
    mfa_throttle_check(user_id=str(user.id))
    password = (password or "")[: services.MAX_PASSWORD_LENGTH]
    if not password_check(user, password, callers=hash_callers(email=user.email, client_ip=client_ip)):
        mfa_failure_record(user_id=str(user.id))
        raise ValidationFailed("password: Incorrect password.", details={"password": ["Incorrect password."]})
    totp_reset(user=user)


# --- sign-in, step two ---------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mfa_challenge_create(*, user: User, client: services.ClientInfo) -> MfaRequired:
    """The password was right and the account has two-factor: a token for the second step."""
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=settings.MFA_TOKEN_TTL_SECONDS)
    MfaChallenge.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()  # keep the table small
    MfaChallenge.objects.create(
        user=user, token_hash=_digest(token), expires_at=expires_at, ip_address=client.ip_address
    )
    logger.info("signin_mfa_required", user_id=str(user.id))
    return MfaRequired(mfa_token=token, expires_at=expires_at)


def _recovery_code_accept(user: User, code: str, client_ip: str | None) -> bool:
    if len(code) != RECOVERY_CODE_LENGTH or any(c not in RECOVERY_ALPHABET for c in code):
        return False
    callers = hash_callers(email=user.email, client_ip=client_ip)
    for recovery in RecoveryCode.objects.filter(user=user, used_at__isnull=True):
        if password_hash_matches(code, recovery.code_hash, callers=callers):
            used = RecoveryCode.objects.filter(id=recovery.id, used_at__isnull=True).update(used_at=timezone.now())
            if used:
                logger.info("recovery_code_used", user_id=str(user.id))
            return bool(used)
    return False


def _challenge_live(mfa_token: str) -> MfaChallenge:
    if not mfa_token or len(mfa_token) > 256:
        raise NotAuthenticated(BAD_MFA_TOKEN)
    challenge = (
        MfaChallenge.objects.select_related("user")
        .filter(token_hash=_digest(mfa_token), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if challenge is None or not challenge.user.is_active:
        raise NotAuthenticated(BAD_MFA_TOKEN)
    return challenge


def _attempt_claim(challenge: MfaChallenge) -> None:
    """Count one code tried with this token before checking it, in one conditional UPDATE, so
    that parallel guesses cannot try more than ``MFA_MAX_ATTEMPTS_PER_TOKEN`` codes with it."""
    claimed = MfaChallenge.objects.filter(
        id=challenge.id, used_at__isnull=True, attempts__lt=settings.MFA_MAX_ATTEMPTS_PER_TOKEN
    ).update(attempts=F("attempts") + 1)
    if not claimed:
        raise NotAuthenticated(BAD_MFA_TOKEN)


def _challenge_failed(challenge: MfaChallenge) -> None:
    user_id = str(challenge.user_id)
    mfa_failure_record(user_id=user_id)
    spent = MfaChallenge.objects.filter(
        id=challenge.id, used_at__isnull=True, attempts__gte=settings.MFA_MAX_ATTEMPTS_PER_TOKEN
    ).update(used_at=timezone.now())
    if spent:
        logger.warning("mfa_token_spent_by_failures", user_id=user_id)
    logger.info("signin_mfa_failed", user_id=user_id)


def user_signin_mfa(*, mfa_token: str, code: str, client: services.ClientInfo | None = None) -> services.AuthResult:
    """Sign-in, step two: the mfa_token of step one and a TOTP code or a recovery code."""
    client = client or services.ClientInfo()
    challenge = _challenge_live(mfa_token)
    user = challenge.user
    mfa_throttle_check(user_id=str(user.id))
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    cleaned = _code_clean(code)
    if device is None:  # two-factor was turned off meanwhile: the password step must be redone
        raise NotAuthenticated(BAD_MFA_TOKEN)
    _attempt_claim(challenge)
    if TOTP_CODE.match(cleaned):
        accepted = _totp_code_accept(device, cleaned)
    else:
        accepted = _recovery_code_accept(user, cleaned, client.ip_address)
    if not accepted:
        _challenge_failed(challenge)
        raise NotAuthenticated(BAD_CODE)
    # Single use: of two parallel completions of one challenge, one opens a session.
    if not MfaChallenge.objects.filter(id=challenge.id, used_at__isnull=True).update(used_at=timezone.now()):
        raise NotAuthenticated(BAD_MFA_TOKEN)
    mfa_success_record(user_id=str(user.id))
    tokens = services.session_open(user=user, client=client)
    logger.info("user_signed_in", user_id=str(user.id), session_id=str(tokens.session_id), mfa=True)
    return services.AuthResult(user=user, tokens=tokens)
