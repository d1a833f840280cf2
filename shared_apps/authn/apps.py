from django.apps import AppConfig


class AuthnConfig(AppConfig):
    name = "shared_apps.authn"
    label = "authn"
