"""Reads of the auth service: user listing, session state, the revocation feed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from shared_apps.accounts.models import DeletedSession, Session, User
from shared_apps.authn.verify import Principal
from shared_apps.core.errors import PermissionDenied, ValidationFailed

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_PAGE = 2**31 - 1  # the range of the proto's int32; beyond it OFFSET overflows the database's integer
# Revocations committed slightly out of timestamp order are still caught by re-reading
# this much before the cursor; the feed is a set, so repeats are harmless.
FEED_OVERLAP = timedelta(seconds=5)


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    total: int
    page: int
    limit: int


def page_params(*, page: int | None, limit: int | None) -> tuple[int, int]:
    """0 or None means the default (proto3 sends 0 for an unset field)."""
    page = page or 1
    limit = limit or DEFAULT_PAGE_SIZE
    if not 1 <= page <= MAX_PAGE:
        raise ValidationFailed("page: Must be 1 or more.", details={"page": ["Must be 1 or more."]})
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"limit: Must be between 1 and {MAX_PAGE_SIZE}.", details={"limit": [f"Between 1 and {MAX_PAGE_SIZE}."]}
        )
    return page, limit


def user_list(*, actor: Principal, page: int | None, limit: int | None) -> UserPage:
    # The staff flag is read from the database, not the token, so a demotion takes effect at once.
    if not User.objects.filter(id=actor.user_id, is_staff=True, is_active=True).exists():
        raise PermissionDenied("Only administrators may list users.")
    page, limit = page_params(page=page, limit=limit)
    queryset: QuerySet[User] = User.objects.order_by("created_at", "id")
    total = queryset.count()
    users = list(queryset[(page - 1) * limit : page * limit])
    return UserPage(users=users, total=total, page=page, limit=limit)


@dataclass(frozen=True)
class SessionSummary:
    """One of a user's live sessions, as the user sees it."""

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    ip: str | None
    user_agent: str
    current: bool


def user_session_list(*, caller: Principal) -> list[SessionSummary]:
    """The caller's live sessions, newest first. ``last_used_at`` is the session's last refresh
    (or its sign-in): access tokens are checked without the database, so that is the last time
    the session was seen."""
    sessions = Session.objects.filter(
        user_id=caller.user_id, revoked_at__isnull=True, refresh_expires_at__gt=timezone.now()
    ).order_by("-created_at", "-id")
    return [
        SessionSummary(
            id=s.id,
            created_at=s.created_at,
            last_used_at=s.last_refreshed_at or s.created_at,
            ip=s.ip_address,
            user_agent=s.user_agent,
            current=s.id == caller.session_id,
        )
        for s in sessions
    ]


def session_is_active(session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """The auth site's session-state check for the shared verifier."""
    return Session.objects.filter(
        id=session_id, user_id=user_id, revoked_at__isnull=True, user__is_active=True
    ).exists()


@dataclass(frozen=True)
class RevokedSessions:
    session_ids: list[str]
    cursor: datetime


def revoked_sessions_since(*, since: datetime | None) -> RevokedSessions:
    """Sessions ended (or deleted) after ``since`` whose access tokens may still be unexpired."""
    now = timezone.now()
    horizon = now - settings.JWT_ACCESS_TTL - timedelta(seconds=settings.JWT_LEEWAY_SECONDS)
    start = horizon if since is None else max(horizon, since - FEED_OVERLAP)
    ended = Session.objects.filter(revoked_at__gt=start).values_list("id", flat=True)
    deleted = DeletedSession.objects.filter(deleted_at__gt=start).values_list("id", flat=True)
    return RevokedSessions(session_ids=[str(i) for i in (*ended, *deleted)], cursor=now)
