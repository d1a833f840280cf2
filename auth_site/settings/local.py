"""Development settings: embedded defaults, DEBUG on, console logs."""

from shared_apps.core.config import env_bool, env_choice, env_int

from .base import *  # noqa: F403
from .base import logging_config

DEBUG = env_bool("DJANGO_DEBUG", True)
SIGNUP_MAX_PER_ADDRESS = env_int("SIGNUP_MAX_PER_ADDRESS", 10_000, minimum=1)  # every test user comes from loopback
LOGGING = logging_config(env_choice("LOG_FORMAT", ("json", "console"), "console"))
