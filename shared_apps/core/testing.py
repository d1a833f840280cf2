"""Helpers only the test settings use."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with a tiny cost, for the test suite only."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1
