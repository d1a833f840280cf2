"""The auth service exactly as in production (Argon2 at its production cost). Bench only."""

from auth_site.settings.production import *  # noqa: F403

SIGNUP_MAX_PER_ADDRESS = 1_000_000  # the bench signs every user up from loopback
