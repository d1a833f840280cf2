"""The models and the migrations agree."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_makemigrations_is_clean():
    # when / then: exits 1 (SystemExit) when a migration is missing
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_accounts_that_existed_before_email_verification_count_as_verified():
    # given: the schema before email verification, with an account in it
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("accounts", "0004_deleted_sessions")], [("accounts", "0005_email_verification")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_user = executor.loader.project_state(before).apps.get_model("accounts", "User")
    old_user.objects.create(email="old@example.com", password="!")
    try:
        # when
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        # then: the old account is verified, and accounts created from now on are not
        from shared_apps.accounts.models import User
        from shared_apps.accounts.tests.factories import UserFactory

        assert User.objects.get(email="old@example.com").email_verified is True
        assert UserFactory().email_verified is False
    finally:  # the whole schema again, for the tests after this one
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
