from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "shared_apps.chat"
    label = "chat"
    verbose_name = "Chat"
