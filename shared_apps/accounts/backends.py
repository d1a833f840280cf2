"""The auth site's authentication backend: the Django admin's login form signs in through
``services.credentials_check`` (email normalisation, then ``credentials.password_signin``), as
the APIs do."""

from __future__ import annotations

from django.http import HttpRequest

from shared_apps.accounts import services
from shared_apps.accounts.credentials import PasswordBackend
from shared_apps.core.client_ip import request_client_ip


class SignInBackend(PasswordBackend):
    def check(self, request: HttpRequest | None, username: str, password: str):
        client = services.ClientInfo(ip_address=request_client_ip(request) if request is not None else None)
        return services.credentials_check(email=username, password=password, client=client)
