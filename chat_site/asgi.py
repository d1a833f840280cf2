"""ASGI entry point of the chat service: HTTP (Django) and websockets (Channels)."""

import os

from shared_apps.core.config import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_site.settings.local")
settings_or_exit(os.environ["DJANGO_SETTINGS_MODULE"])

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from shared_apps.chat.lifecycle import ChatLifecycleMiddleware  # noqa: E402
from shared_apps.chat.ws_api.routing import websocket_application  # noqa: E402

application = ChatLifecycleMiddleware(ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application}))
