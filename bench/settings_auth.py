"""The auth service exactly as in production (Argon2 at its production cost). Bench only."""

from auth_site.settings.production import *  # noqa: F403
