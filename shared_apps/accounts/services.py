"""The auth service layer: sign-up, sign-in, refresh, sign-out, revoke, validate, deactivate;
password change and reset, email verification, a user's own sessions.

REST views, gRPC servicers and the admin call these functions and nothing else writes
users or sessions. Every failure is a domain error from ``shared_apps.core.errors``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError

from shared_apps.accounts import mfa
from shared_apps.accounts.credentials import MAX_PASSWORD_LENGTH, password_signin
from shared_apps.accounts.email_address import mixed_script_part
from shared_apps.accounts.email_throttle import account_email_admit, account_email_throttle
from shared_apps.accounts.emails import (
    email_verification_tokens,
    link_token_parse,
    password_reset_email_send,
    password_reset_tokens,
    verification_email_send,
)
from shared_apps.accounts.models import Session, User, UserManager
from shared_apps.accounts.passwords import hash_callers, password_check, password_hash
from shared_apps.accounts.throttle import (
    signin_failure_record,
    signin_throttle_check,
    signup_throttle_consume,
)
from shared_apps.authn.tokens import SessionAccessToken, SessionRefreshToken
from shared_apps.authn.verify import Principal, access_token_verify
from shared_apps.core.errors import AlreadyExists, EmailNotVerified, NotAuthenticated, NotFound, ValidationFailed

logger = structlog.get_logger(__name__)

MAX_NAME_LENGTH = 150
MAX_EMAIL_LENGTH = 254  # the column's length; longer input must be a 400, not a database error
NOT_VERIFIED = "Verify your email address first: follow the link sent to it (a new one has been sent)."
INVALID_LINK = "The link is invalid, used or expired; ask for a new one."
WRONG_CURRENT_PASSWORD = "The current password is not right."


@dataclass(frozen=True)
class IssuedTokens:
    session_id: uuid.UUID
    user_id: uuid.UUID
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    created_at: datetime
    token_type: str = "Bearer"


@dataclass(frozen=True)
class AuthResult:
    user: User
    tokens: IssuedTokens


@dataclass(frozen=True)
class TokenValidation:
    valid: bool
    user_id: str
    session_id: str
    error_message: str


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None = None
    user_agent: str = ""


def _tokens_mint(*, user: User, session_id: uuid.UUID) -> tuple[SessionAccessToken, SessionRefreshToken]:
    access = SessionAccessToken()
    refresh = SessionRefreshToken()
    for token in (access, refresh):
        token["sub"] = str(user.id)
        token["sid"] = str(session_id)
    access["stf"] = user.is_staff
    return access, refresh


def _issued(
    access: SessionAccessToken, refresh: SessionRefreshToken, *, user: User, session_id: uuid.UUID
) -> IssuedTokens:
    return IssuedTokens(
        session_id=session_id,
        user_id=user.id,
        access_token=str(access),
        refresh_token=str(refresh),
        access_expires_at=datetime.fromtimestamp(access["exp"], tz=UTC),
        refresh_expires_at=datetime.fromtimestamp(refresh["exp"], tz=UTC),
        created_at=timezone.now(),
    )


def session_open(*, user: User, client: ClientInfo) -> IssuedTokens:
    """Open a session for ``user`` and mint its first token pair."""
    session_id = uuid.uuid4()
    access, refresh = _tokens_mint(user=user, session_id=session_id)
    Session.objects.create(
        id=session_id,
        user=user,
        refresh_jti=refresh["jti"],
        refresh_expires_at=datetime.fromtimestamp(refresh["exp"], tz=UTC),
        ip_address=client.ip_address,
        user_agent=(client.user_agent or "")[:256],
    )
    return _issued(access, refresh, user=user, session_id=session_id)


def _email_clean(email: str) -> str:
    """The address of a new account: normalised (NFKC, lower case), valid, one script per part."""
    email = UserManager.normalize_email_address(email)
    try:
        if len(email) > MAX_EMAIL_LENGTH:
            raise DjangoValidationError("too long")
        validate_email(email)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "email: Enter a valid email address.", details={"email": ["Enter a valid email address."]}
        ) from exc
    part = mixed_script_part(email)
    if part is not None:
        message = f"The {part} mixes scripts (e.g. Latin with Cyrillic or Greek look-alike letters)."
        raise ValidationFailed(f"email: {message}", details={"email": [message]})
    return email


def _storable(value: str) -> bool:
    """PostgreSQL text cannot hold NUL; refuse it as bad input rather than fail in the database.
    (gRPC strings reach the service unchecked; DRF's CharField already refuses NUL.)"""
    return "\x00" not in value


def user_create(*, name: str, email: str, password: str, client: ClientInfo | None = None) -> AuthResult:
    """Sign up: create the user and open their first session in one transaction."""
    name = (name or "").strip()
    email = _email_clean(email)
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"name: At most {MAX_NAME_LENGTH} characters.", details={"name": ["Too long."]})
    if not _storable(name):
        raise ValidationFailed("name: Must not contain NUL characters.", details={"name": ["Invalid character."]})
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password: Between 1 and {MAX_PASSWORD_LENGTH} characters.", details={"password": ["Invalid length."]}
        )
    candidate = User(email=email, name=name)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed(f"password: {' '.join(exc.messages)}", details={"password": exc.messages}) from exc
    if User.objects.filter(email=email).exists():
        raise AlreadyExists("A user with this email already exists.", details={"email": ["Already registered."]})
    # Hash before the transaction: Argon2 takes a while, and no lock should be held meanwhile.
    client = client or ClientInfo()
    signup_throttle_consume(client_ip=client.ip_address)
    candidate.password = password_hash(password, callers=hash_callers(email=email, client_ip=client.ip_address))
    try:
        with transaction.atomic():
            candidate.save()
            user = candidate
            tokens = session_open(user=user, client=client)
    except IntegrityError as exc:  # a concurrent sign-up with the same address won the race
        raise AlreadyExists(
            "A user with this email already exists.", details={"email": ["Already registered."]}
        ) from exc
    logger.info("user_signed_up", user_id=str(user.id), session_id=str(tokens.session_id))
    account_email_admit(kind=VERIFICATION, account=str(user.id), client_ip=None)  # resends share the budget
    verification_email_send(user=user)
    return AuthResult(user=user, tokens=tokens)


def user_signin(*, email: str, password: str, client: ClientInfo | None = None) -> AuthResult | mfa.MfaRequired:
    """Check credentials (``credentials_check``) and open a session. An account with two-factor
    gets ``MfaRequired`` instead (no tokens until ``mfa.user_signin_mfa`` sees its code); with
    ``AUTH_REQUIRE_VERIFIED_EMAIL``, an unverified one gets ``EmailNotVerified`` and a new link."""
    client = client or ClientInfo()
    user = credentials_check(email=email, password=password, client=client)
    if settings.AUTH_REQUIRE_VERIFIED_EMAIL and not user.email_verified:
        # The right password, so the owner: a new link (within the email budget), and no session.
        if account_email_admit(kind=VERIFICATION, account=str(user.id), client_ip=client.ip_address) is None:
            verification_email_send(user=user)
        logger.info("signin_email_not_verified", user_id=str(user.id))
        raise EmailNotVerified(NOT_VERIFIED)
    if mfa.totp_is_active(user=user):
        return mfa.mfa_challenge_create(user=user, client=client)
    tokens = session_open(user=user, client=client)
    logger.info("user_signed_in", user_id=str(user.id), session_id=str(tokens.session_id))
    return AuthResult(user=user, tokens=tokens)


def credentials_check(*, email: str, password: str, client: ClientInfo | None = None) -> User:
    """The user whose email and password these are, or ``NotAuthenticated`` (``RateLimited``
    while throttled). Every password sign-in goes through here: the APIs (``user_signin``) and
    the admin's login form (``backends.SignInBackend``).

    The answer and its cost are the same whether or not the address exists: an unknown
    address still pays for one password hash. Failures count toward the throttles (per
    account-and-address pair, per address, and the account's slowdown), which are checked
    before any hashing; the hash itself is admitted per address and per account before the
    global hashing queue (``passwords``); the rule is ``credentials.password_signin``.
    """
    client = client or ClientInfo()
    email = UserManager.normalize_email_address(email or "")
    # An address that cannot be stored cannot exist: skip the query (it would fail on PostgreSQL).
    storable = _storable(email) and len(email) <= MAX_EMAIL_LENGTH
    return password_signin(
        identifier=email,
        password=password,
        client_ip=client.ip_address,
        find_user=lambda: User.objects.filter(email=email).first() if storable else None,
    )


def _refresh_claims(raw_token: str) -> SessionRefreshToken:
    if not raw_token:
        raise NotAuthenticated("A refresh token is required.")
    if len(raw_token) > 4096:
        raise NotAuthenticated("Refresh token is invalid.")
    try:
        return SessionRefreshToken(raw_token)
    except TokenError as exc:
        if "expired" in str(exc):
            raise NotAuthenticated("Refresh token is expired.") from exc
        if "wrong type" in str(exc):
            raise NotAuthenticated("Token has the wrong type; a refresh token is required.") from exc
        raise NotAuthenticated("Refresh token is invalid.") from exc


def session_refresh(*, refresh_token: str) -> IssuedTokens:
    """Rotate the token pair of a session.

    The swap is one conditional UPDATE on the session row (compare-and-set on
    ``refresh_jti``), so of any number of concurrent refreshes with one token exactly
    one matches. Any other presentation of a spent refresh token is reuse: the whole
    session is ended (RFC 9700 4.14), which also ends the tokens the winner received.
    """
    claims = _refresh_claims(refresh_token)
    try:
        session_id = uuid.UUID(str(claims["sid"]))
    except (KeyError, ValueError) as exc:
        raise NotAuthenticated("Refresh token is invalid.") from exc
    session = Session.objects.select_related("user").filter(id=session_id).first()
    if session is None or str(session.user_id) != str(claims["sub"]):
        raise NotAuthenticated("Refresh token is invalid.")
    user = session.user
    if not user.is_active:
        raise NotAuthenticated("Session has ended; sign in again.")
    if settings.AUTH_REQUIRE_VERIFIED_EMAIL and not user.email_verified:
        raise EmailNotVerified(NOT_VERIFIED)
    access, refresh = _tokens_mint(user=user, session_id=session_id)
    now = timezone.now()
    # Only columns of the session row in the WHERE: a condition on the user would make Django
    # write ``WHERE id IN (SELECT ... JOIN user ...)``, and PostgreSQL does not re-check such a
    # subquery after waiting for a concurrent update of the row, so several refreshes would win.
    # Deactivation ends the sessions (revoked_at) in the same transaction, which this checks.
    swapped = Session.objects.filter(id=session_id, refresh_jti=claims["jti"], revoked_at__isnull=True).update(
        refresh_jti=refresh["jti"],
        refresh_expires_at=datetime.fromtimestamp(refresh["exp"], tz=UTC),
        last_refreshed_at=now,
        updated_at=now,
    )
    if swapped == 1:
        return _issued(access, refresh, user=user, session_id=session_id)
    session.refresh_from_db()
    if session.revoked_at is None and user.is_active:
        session_end(session_id=session_id, reason=Session.EndReason.REFRESH_REUSE)
        logger.warning("refresh_token_reuse_detected", session_id=str(session_id), user_id=str(user.id))
        raise NotAuthenticated("Refresh token was already used; the session has been ended. Sign in again.")
    raise NotAuthenticated("Session has ended; sign in again.")


def session_end(*, session_id: uuid.UUID, reason: str) -> bool:
    """End one session. Returns whether it was live. Idempotent."""
    ended = Session.objects.filter(id=session_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason, updated_at=timezone.now()
    )
    if ended:
        logger.info("session_ended", session_id=str(session_id), reason=reason)
    return bool(ended)


def session_signout(*, caller: Principal | None, access_token: str | None = None) -> None:
    """End the session of ``access_token`` if given (the seed sends it in the body), else the
    caller's. A token in the body must belong to the caller when both are given."""
    principal = access_token_verify(access_token) if access_token else caller
    if principal is None:
        raise NotAuthenticated("An access token is required.")
    if caller is not None and principal.user_id != caller.user_id:
        raise NotAuthenticated("The access token does not belong to the caller.")
    session_end(session_id=principal.session_id, reason=Session.EndReason.SIGNOUT)


def session_revoke(*, access_token: str) -> None:
    """Revoke the session of a presented access token (possession is the authority)."""
    if not access_token:
        raise NotAuthenticated("An access token is required.")
    principal = access_token_verify(access_token)
    session_end(session_id=principal.session_id, reason=Session.EndReason.REVOKED)


def token_validate(*, token: str) -> TokenValidation:
    try:
        principal = access_token_verify(token)
    except NotAuthenticated as exc:
        return TokenValidation(valid=False, user_id="", session_id="", error_message=exc.message)
    return TokenValidation(
        valid=True, user_id=str(principal.user_id), session_id=str(principal.session_id), error_message=""
    )


def user_sessions_end(*, user: User, reason: str) -> int:
    count = Session.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason, updated_at=timezone.now()
    )
    logger.info("user_sessions_ended", user_id=str(user.id), count=count, reason=reason)
    return count


def user_password_changed(*, user: User) -> int:
    """A new password (or none) was set for ``user`` by someone else (staff in the admin):
    every session of the user ends, so tokens issued under the old password stop working on
    both services (the chat service within its revocation feed's delay)."""
    return user_sessions_end(user=user, reason=Session.EndReason.PASSWORD_CHANGED)


# --- accounts: password, email, sessions -----------------------------------------------------

PASSWORD_RESET = "password_reset"
VERIFICATION = "email_verification"


def _new_password_validate(*, user: User, password: str, field: str = "new_password") -> None:
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"{field}: Between 1 and {MAX_PASSWORD_LENGTH} characters.", details={field: ["Invalid length."]}
        )
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed(f"{field}: {' '.join(exc.messages)}", details={field: exc.messages}) from exc


def _caller_user(caller: Principal) -> User:
    user = User.objects.filter(id=caller.user_id, is_active=True).first()
    if user is None:
        raise NotAuthenticated("Session has ended; sign in again.")
    return user


def user_password_change(
    *, caller: Principal, current_password: str, new_password: str, client: ClientInfo | None = None
) -> int:
    """Change the caller's password. Every other session of the user ends (the caller's stays).
    A wrong current password is a 400 on ``current_password`` (a 401 would tell the client its
    token is bad) and counts as a failed sign-in, so a stolen access token cannot be used to
    guess the password faster than sign-in allows. Returns how many sessions ended."""
    client = client or ClientInfo()
    user = _caller_user(caller)
    signin_throttle_check(email=user.email, client_ip=client.ip_address)
    callers = hash_callers(email=user.email, client_ip=client.ip_address)
    current_password = (current_password or "")[: MAX_PASSWORD_LENGTH + 1]
    if len(current_password) > MAX_PASSWORD_LENGTH or not password_check(user, current_password, callers=callers):
        signin_failure_record(email=user.email, client_ip=client.ip_address)
        logger.info("password_change_refused", user_id=str(user.id))
        raise ValidationFailed(
            f"current_password: {WRONG_CURRENT_PASSWORD}", details={"current_password": [WRONG_CURRENT_PASSWORD]}
        )
    _new_password_validate(user=user, password=new_password)
    encoded = password_hash(new_password, callers=callers)
    now = timezone.now()
    with transaction.atomic():
        User.objects.filter(id=user.id).update(password=encoded, updated_at=now)
        ended = (
            Session.objects.filter(user=user, revoked_at__isnull=True)
            .exclude(id=caller.session_id)
            .update(revoked_at=now, revoke_reason=Session.EndReason.PASSWORD_CHANGED, updated_at=now)
        )
    logger.info("password_changed", user_id=str(user.id), session_id=str(caller.session_id), sessions_ended=ended)
    return ended


def password_reset_request(*, email: str, client: ClientInfo | None = None) -> None:
    """Send a password-reset link to ``email`` if an active account with a usable password has it.

    The caller learns nothing either way: the answer is the same, the same queries run, the
    email is handed to the mail thread (no waiting for the server), and the throttle counts
    the address asked for whether or not it exists.
    """
    client = client or ClientInfo()
    email = UserManager.normalize_email_address(email)
    account_email_throttle(kind=PASSWORD_RESET, account=email, client_ip=client.ip_address)
    storable = _storable(email) and len(email) <= MAX_EMAIL_LENGTH
    user = User.objects.filter(email=email, is_active=True).first() if storable else None
    if user is None or not user.has_usable_password():  # staff disabled password sign-in: keep it so
        logger.info("password_reset_requested", sent=False)
        return
    password_reset_email_send(user=user)
    logger.info("password_reset_requested", sent=True, user_id=str(user.id))


def _link_user(token: str, *, generator) -> User:
    link = link_token_parse(token or "")
    user = User.objects.filter(id=link.user_id, is_active=True).first() if link else None
    if user is None or not generator.check_token(user, link.token):
        raise ValidationFailed(f"token: {INVALID_LINK}", details={"token": [INVALID_LINK]})
    return user


def password_reset_confirm(*, token: str, new_password: str, client: ClientInfo | None = None) -> int:
    """Set a new password with a reset link's token; every session of the user ends. The token
    works once: the new password changes what it was made from, and the update is conditional
    on the old password hash, so of two concurrent confirms with one token only one succeeds.
    Following the link proves the address, so it also counts as verified. Returns how many
    sessions ended."""
    client = client or ClientInfo()
    user = _link_user(token, generator=password_reset_tokens)
    _new_password_validate(user=user, password=new_password)
    encoded = password_hash(new_password, callers=hash_callers(email=user.email, client_ip=client.ip_address))
    with transaction.atomic():
        changed = User.objects.filter(id=user.id, password=user.password).update(
            password=encoded, email_verified=True, updated_at=timezone.now()
        )
        if not changed:
            raise ValidationFailed(f"token: {INVALID_LINK}", details={"token": [INVALID_LINK]})
        ended = user_sessions_end(user=user, reason=Session.EndReason.PASSWORD_RESET)
    logger.info("password_reset", user_id=str(user.id), sessions_ended=ended)
    return ended


def user_email_verify(*, token: str) -> User:
    """Mark the address of a verification link's token as verified. Following a link again (or
    a second link) is harmless; a link sent to an address the account no longer has is refused."""
    user = _link_user(token, generator=email_verification_tokens)
    if not user.email_verified:
        User.objects.filter(id=user.id).update(email_verified=True, updated_at=timezone.now())
        user.email_verified = True
        logger.info("email_verified", user_id=str(user.id))
    return user


def user_verification_resend(*, caller: Principal, client: ClientInfo | None = None) -> bool:
    """Send the caller a new verification link, within the email budget (429 past it). Nothing
    is sent for an address already verified. Returns whether an email was sent."""
    client = client or ClientInfo()
    user = _caller_user(caller)
    if user.email_verified:
        return False
    account_email_throttle(kind=VERIFICATION, account=str(user.id), client_ip=client.ip_address)
    verification_email_send(user=user)
    logger.info("email_verification_resent", user_id=str(user.id))
    return True


def user_email_mark(*, user: User, verified: bool) -> None:
    """Staff mark an address verified (or not) in the admin."""
    User.objects.filter(id=user.id).update(email_verified=verified, updated_at=timezone.now())
    user.email_verified = verified
    logger.info("email_marked", user_id=str(user.id), verified=verified)


def user_password_reset_send(*, user: User) -> bool:
    """Staff send a user a password-reset link (the admin), bypassing the request throttle.
    Not for an inactive account or one whose password sign-in staff disabled."""
    if not user.is_active or not user.has_usable_password():
        return False
    password_reset_email_send(user=user)
    logger.info("password_reset_sent_by_staff", user_id=str(user.id))
    return True


def user_verification_send(*, user: User) -> bool:
    """Staff send a user a new verification link (the admin); nothing for a verified address."""
    if user.email_verified or not user.is_active:
        return False
    verification_email_send(user=user)
    logger.info("email_verification_sent_by_staff", user_id=str(user.id))
    return True


def user_session_end(*, caller: Principal, session_id: str) -> None:
    """End one of the caller's own sessions (any of them, the current one too). Another user's
    session is not found, exactly like one that does not exist. Ending an ended one again is a no-op."""
    try:
        sid = uuid.UUID(str(session_id))
    except ValueError as exc:
        raise ValidationFailed("session_id: Not a valid id.", details={"session_id": ["Not a UUID."]}) from exc
    if not Session.objects.filter(id=sid, user_id=caller.user_id).exists():
        raise NotFound("Session not found.")
    reason = Session.EndReason.SIGNOUT if sid == caller.session_id else Session.EndReason.USER_ENDED
    session_end(session_id=sid, reason=reason)


def user_deactivate(*, user: User) -> None:
    """Deactivate a user and end all their sessions at once, in one transaction."""
    with transaction.atomic():
        User.objects.filter(id=user.id).update(is_active=False, updated_at=timezone.now())
        user.is_active = False
        user_sessions_end(user=user, reason=Session.EndReason.USER_DEACTIVATED)
