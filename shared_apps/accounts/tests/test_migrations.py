"""The models and the migrations agree."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_makemigrations_is_clean():
    # when / then: exits 1 (SystemExit) when a migration is missing
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
