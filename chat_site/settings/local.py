"""Development settings: embedded defaults, DEBUG on, console logs."""

from shared_apps.core.config import env_bool, env_choice

from .base import *  # noqa: F403
from .base import logging_config

DEBUG = env_bool("DJANGO_DEBUG", True)
LOGGING = logging_config(env_choice("LOG_FORMAT", ("json", "console"), "console"))
