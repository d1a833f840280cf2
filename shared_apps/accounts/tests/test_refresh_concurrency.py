"""Many concurrent refreshes with one refresh token: exactly one wins."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from shared_apps.accounts import services
from shared_apps.accounts.tests.factories import PASSWORD, UserFactory
from shared_apps.core.errors import NotAuthenticated

N = 20
ROUNDS = 10  # a race shows up only sometimes; several rounds make a broken swap fail reliably


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_parallel_refreshes_of_one_token_have_exactly_one_winner(round_):
    # given
    user = UserFactory()
    tokens = services.user_signin(email=user.email, password=PASSWORD).tokens
    barrier = threading.Barrier(N)

    def refresh(_index: int):
        barrier.wait()
        try:
            return services.session_refresh(refresh_token=tokens.refresh_token)
        except NotAuthenticated as exc:
            return exc
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(refresh, range(N)))
    # then
    winners = [r for r in results if isinstance(r, services.IssuedTokens)]
    losers = [r for r in results if isinstance(r, NotAuthenticated)]
    assert len(winners) == 1, results
    assert len(losers) == N - 1
