"""API keys: long-lived credentials for programs, accepted by the chat service.

A key is ``cak_`` and 48 random letters and digits (about 285 bits), shown once when it is
created. The database keeps its SHA-256 digest (a fast hash is right for a key this random:
there is nothing to guess) and its first 12 characters, the ``prefix``, by which it is found
and which its owner sees in the list. The chat service sends a presented key to
``api_key_verify`` (gRPC ``VerifyApiKey``, service credential only) and caches the answer
for a minute; a deleted key (``revoked_at``), a key deleted with its row, and the keys of a
deactivated user are listed by the revocation feed (``revoked_api_keys_since``), so every
chat process refuses them within a second.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.db import IntegrityError
from django.utils import timezone

from shared_apps.accounts.models import API_KEY_FEED_SECONDS, ApiKey, DeletedApiKey, User
from shared_apps.accounts.selectors import FEED_OVERLAP
from shared_apps.authn.verify import API_KEY_PREFIX
from shared_apps.core.errors import NotAuthenticated, NotFound, ValidationFailed

logger = structlog.get_logger(__name__)

KEY_ALPHABET = string.ascii_letters + string.digits
KEY_BODY_LENGTH = 48
KEY_LENGTH = len(API_KEY_PREFIX) + KEY_BODY_LENGTH
PREFIX_LENGTH = len(API_KEY_PREFIX) + 8
MAX_NAME_LENGTH = 100
MAX_KEYS_PER_USER = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    key: str  # the only time the key exists outside its owner's hands


@dataclass(frozen=True)
class ApiKeyVerification:
    valid: bool
    user_id: str = ""
    api_key_id: str = ""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_shape_ok(key: str) -> bool:
    body = key[len(API_KEY_PREFIX) :]
    return len(key) == KEY_LENGTH and key.startswith(API_KEY_PREFIX) and all(c in KEY_ALPHABET for c in body)


def _name_clean(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
        message = f"Between 1 and {MAX_NAME_LENGTH} characters, no NUL."
        raise ValidationFailed(f"name: {message}", details={"name": [message]})
    return name


def _user_active(user_id: uuid.UUID) -> User:
    user = User.objects.filter(id=user_id, is_active=True).first()
    if user is None:
        raise NotAuthenticated("Session has ended; sign in again.")
    return user


def api_key_create(*, user_id: uuid.UUID, name: str) -> CreatedApiKey:
    name = _name_clean(name)
    user = _user_active(user_id)
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_KEYS_PER_USER:
        raise ValidationFailed(f"At most {MAX_KEYS_PER_USER} API keys per user; delete one first.")
    for _attempt in range(3):  # a prefix collision (48 bits) is next to impossible; retry anyway
        key = API_KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_BODY_LENGTH))
        try:
            api_key = ApiKey.objects.create(user=user, name=name, prefix=key[:PREFIX_LENGTH], key_hash=_digest(key))
        except IntegrityError:
            continue
        logger.info("api_key_created", user_id=str(user.id), api_key_id=str(api_key.id))
        return CreatedApiKey(api_key=api_key, key=key)
    raise RuntimeError("could not draw an unused API key prefix")


def api_key_list(*, user_id: uuid.UUID) -> list[ApiKey]:
    return list(ApiKey.objects.filter(user_id=user_id, revoked_at__isnull=True).order_by("-created_at", "id"))


def _key_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError as exc:
        raise ValidationFailed("id: Not a valid UUID.", details={"id": ["Not a valid UUID."]}) from exc


def api_key_delete(*, user_id: uuid.UUID, api_key_id: str) -> None:
    """Delete (revoke) one of the caller's keys; another user's key, or an unknown one, is 404."""
    key_id = _key_id(api_key_id)
    now = timezone.now()
    deleted = ApiKey.objects.filter(id=key_id, user_id=user_id, revoked_at__isnull=True).update(revoked_at=now)
    if not deleted:
        raise NotFound("No such API key.")
    logger.info("api_key_deleted", user_id=str(user_id), api_key_id=str(key_id))


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Staff (the admin): revoke any key. Returns whether it was live."""
    revoked = ApiKey.objects.filter(id=api_key.id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        logger.info("api_key_deleted", user_id=str(api_key.user_id), api_key_id=str(api_key.id), by="staff")
    return bool(revoked)


def api_key_verify(*, key: str) -> ApiKeyVerification:
    """Whose key this is, if it is a live key of an active user. Notes the key's last use
    (at most once a minute: the chat service caches answers that long)."""
    if not api_key_shape_ok(key or ""):
        return ApiKeyVerification(valid=False)
    api_key = ApiKey.objects.select_related("user").filter(prefix=key[:PREFIX_LENGTH]).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _digest(key)):
        return ApiKeyVerification(valid=False)
    if api_key.revoked_at is not None or not api_key.user.is_active:
        return ApiKeyVerification(valid=False)
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(id=api_key.id).update(last_used_at=now)
    return ApiKeyVerification(valid=True, user_id=str(api_key.user_id), api_key_id=str(api_key.id))


def revoked_api_keys_since(*, since: datetime | None) -> list[str]:
    """Keys deleted, deleted with their row, or of users deactivated after ``since`` (a feed
    cursor; re-read with the feed's overlap), within the last ``API_KEY_FEED_SECONDS``: longer
    than the chat side caches a key."""
    horizon = timezone.now() - timedelta(seconds=API_KEY_FEED_SECONDS)
    start = horizon if since is None else max(horizon, since - FEED_OVERLAP)
    revoked = ApiKey.objects.filter(revoked_at__gt=start).values_list("id", flat=True)
    deleted = DeletedApiKey.objects.filter(deleted_at__gt=start).values_list("id", flat=True)
    deactivated = ApiKey.objects.filter(
        revoked_at__isnull=True, user__is_active=False, user__updated_at__gt=start
    ).values_list("id", flat=True)
    return [str(i) for i in (*revoked, *deleted, *deactivated)]
