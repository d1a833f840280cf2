"""Password sign-in, the one rule: throttles first, then a hash in the bounded queue, then the
failure or success counted. Used by the auth APIs (``services.credentials_check``) and by the
Django admin's login form on both sites (``PasswordBackend``; the chat site's staff are its own
Django users). Imports no model of this app, so the chat site can use it without installing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from shared_apps.accounts.passwords import hash_callers, password_check, password_hash_dummy
from shared_apps.accounts.throttle import signin_failure_record, signin_success_record, signin_throttle_check
from shared_apps.core.client_ip import request_client_ip
from shared_apps.core.errors import NotAuthenticated, RateLimited

logger = structlog.get_logger(__name__)

MAX_PASSWORD_LENGTH = 256  # Argon2 takes any length; this only bounds the work per request.
BAD_CREDENTIALS = "Invalid email or password."
# Set on the request when a sign-in was refused by a throttle; the admin's login form shows it.
REFUSAL_ATTR = "signin_refused_message"


def password_signin(*, identifier: str, password: str, client_ip: str | None, find_user: Callable[[], Any]) -> Any:
    """The user ``find_user`` answers for ``identifier`` if ``password`` is theirs and they are
    active; else ``NotAuthenticated`` (``RateLimited`` while throttled; no hash is run then).

    The answer and its cost are the same whether or not the user exists: an unknown one still
    pays for one password hash. Failures count toward the throttles (per identifier-and-address
    pair, per address, and the account's slowdown), checked before any hashing; the hash itself
    is admitted per address and per account before the global hashing queue (``passwords``).
    """
    signin_throttle_check(email=identifier, client_ip=client_ip)
    password = (password or "")[:MAX_PASSWORD_LENGTH]  # too long still fails, at a bounded cost
    user = find_user()
    callers = hash_callers(email=identifier, client_ip=client_ip)
    if user is None:
        password_hash_dummy(password, callers=callers)
        ok = False
    else:
        ok = password_check(user, password, callers=callers) and user.is_active
    if not ok:
        signin_failure_record(email=identifier, client_ip=client_ip)
        logger.info("signin_failed", ip=client_ip)
        raise NotAuthenticated(BAD_CREDENTIALS)
    signin_success_record(email=identifier, client_ip=client_ip)
    return user


class PasswordBackend(ModelBackend):
    """Django's model backend through ``password_signin``: the admin's login form is throttled
    and hashes in the queue like every other sign-in."""

    def check(self, request: HttpRequest | None, username: str, password: str):
        user_model = get_user_model()

        def find_user():
            try:
                return user_model._default_manager.get_by_natural_key(username)
            except user_model.DoesNotExist:
                return None

        client_ip = request_client_ip(request) if request is not None else None
        return password_signin(identifier=username, password=password, client_ip=client_ip, find_user=find_user)

    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        try:
            user = self.check(request, username, password)
        except RateLimited as exc:
            if request is not None:
                setattr(request, REFUSAL_ATTR, exc.message)
            raise PermissionDenied(exc.message) from exc  # authenticate() stops: no other backend is asked
        except NotAuthenticated:
            return None
        return user if self.user_can_authenticate(user) else None


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login form; a sign-in refused by a throttle says so."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            refused = getattr(self.request, REFUSAL_ATTR, None)
            if refused:
                raise forms.ValidationError(refused, code="throttled") from None
            raise
