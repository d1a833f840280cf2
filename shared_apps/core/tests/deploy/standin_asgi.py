"""A trivial ASGI app: lets ``gunicorn --check-config`` load docker/gunicorn.chat.py (and its
worker class) without importing the chat site."""


async def application(scope, receive, send):  # pragma: no cover - never served
    raise RuntimeError("stand-in app")
