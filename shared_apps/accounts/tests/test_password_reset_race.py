"""Concurrent confirms with one reset token: exactly one sets its password."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from shared_apps.accounts import services
from shared_apps.accounts.emails import link_token_make, password_reset_tokens
from shared_apps.accounts.models import User
from shared_apps.accounts.tests.factories import UserFactory
from shared_apps.core.errors import ValidationFailed

N = 8
ROUNDS = 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_parallel_confirms_of_one_reset_token_have_exactly_one_winner(round_):
    # given: one link, and N people (or one attacker) posting it at once with different passwords
    user = UserFactory()
    token = link_token_make(user=user, generator=password_reset_tokens)
    barrier = threading.Barrier(N)

    def confirm(index: int):
        barrier.wait()
        try:
            services.password_reset_confirm(token=token, new_password=f"parallel-Passphrase-{index}")
            return index
        except ValidationFailed as exc:
            return exc
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(confirm, range(N)))
    # then: one winner, whose password is the one set
    winners = [r for r in results if isinstance(r, int)]
    assert len(winners) == 1, results
    assert all(isinstance(r, ValidationFailed) for r in results if not isinstance(r, int))
    assert User.objects.get(id=user.id).check_password(f"parallel-Passphrase-{winners[0]}")
