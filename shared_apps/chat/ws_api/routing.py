"""Websocket routes of the chat service."""

from channels.routing import URLRouter
from django.urls import path

from shared_apps.authn.ws import AccessTokenWebsocketMiddleware
from shared_apps.chat.ws_api.consumers import ChatConsumer

websocket_urlpatterns = [path("ws/chat/", ChatConsumer.as_asgi())]

websocket_application = AccessTokenWebsocketMiddleware(URLRouter(websocket_urlpatterns))
