import os

from shared_apps.core.config import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auth_site.settings.local")
settings_or_exit(os.environ["DJANGO_SETTINGS_MODULE"])

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()
