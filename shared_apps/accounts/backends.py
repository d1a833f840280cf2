"""The auth site's authentication backend: the Django admin's login form signs in through
``services.credentials_check``, as the APIs do, so its guesses count toward the same sign-in
throttles and its password hashes wait in the same bounded hashing queue."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from shared_apps.accounts import services
from shared_apps.core.client_ip import request_client_ip
from shared_apps.core.errors import NotAuthenticated, RateLimited

# Set on the request when a sign-in was refused by a throttle; the admin's form shows it.
REFUSAL_ATTR = "signin_refused_message"


def request_client(request: HttpRequest | None) -> services.ClientInfo:
    if request is None:
        return services.ClientInfo()
    return services.ClientInfo(
        ip_address=request_client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")
    )


class SignInBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        try:
            user = services.credentials_check(email=username, password=password, client=request_client(request))
        except RateLimited as exc:
            if request is not None:
                setattr(request, REFUSAL_ATTR, exc.message)
            raise PermissionDenied(exc.message) from exc  # authenticate() stops: no other backend is asked
        except NotAuthenticated:
            return None
        return user if self.user_can_authenticate(user) else None
