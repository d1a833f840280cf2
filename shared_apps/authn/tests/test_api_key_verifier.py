"""The chat side's API key verifier against a real auth gRPC server: one call per key per cache
period (parallel first uses included), and no blind trust when the auth service cannot answer."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared_apps.accounts import api_keys
from shared_apps.accounts.tests.factories import UserFactory
from shared_apps.authn.api_keys import ApiKeyVerifier
from shared_apps.core.errors import ServiceUnavailable
from testkit.processes import free_port


@pytest.fixture
def key(transactional_db) -> api_keys.CreatedApiKey:
    return api_keys.api_key_create(user_id=UserFactory().id, name="k")


def test_parallel_first_uses_make_one_call(auth_grpc_target, key):
    # given
    verifier = ApiKeyVerifier(auth_grpc_target, cache_seconds=60)
    try:
        # when
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: verifier.answer(key.key), range(16)))
        # then
        assert verifier.calls == 1
        assert {a.api_key_id for a in answers} == {str(key.api_key.id)}
        assert all(a.valid and a.user_id == str(key.api_key.user_id) for a in answers)
    finally:
        verifier.close()


def test_the_answer_is_asked_again_after_the_cache_period(auth_grpc_target, key):
    # given
    verifier = ApiKeyVerifier(auth_grpc_target, cache_seconds=1)
    try:
        verifier.answer(key.key)
        verifier.answer(key.key)
        # when
        time.sleep(1.1)
        api_keys.api_key_delete(user_id=key.api_key.user_id, api_key_id=str(key.api_key.id))
        answer = verifier.answer(key.key)
        # then
        assert verifier.calls == 2
        assert answer.valid is False
    finally:
        verifier.close()


def test_a_changed_key_is_invalid_and_never_the_owners(auth_grpc_target, key):
    # given
    verifier = ApiKeyVerifier(auth_grpc_target, cache_seconds=60)
    try:
        # when
        answer = verifier.answer(key.key[:-1] + ("A" if key.key[-1] != "A" else "B"))
        # then
        assert answer.valid is False and answer.user_id == ""
    finally:
        verifier.close()


@pytest.mark.parametrize("case", ["wrong_service_token", "unreachable"])
def test_no_answer_is_unavailable_not_invalid_nor_valid(auth_grpc_target, key, case):
    # given
    if case == "wrong_service_token":
        verifier = ApiKeyVerifier(auth_grpc_target, cache_seconds=60, service_token="x" * 40)
    else:
        verifier = ApiKeyVerifier(f"127.0.0.1:{free_port()}", cache_seconds=60)
    try:
        # when / then
        with pytest.raises(ServiceUnavailable):
            verifier.answer(key.key)
        with pytest.raises(ServiceUnavailable):  # the failure was not cached as an answer
            verifier.answer(key.key)
        assert verifier.calls == 2
    finally:
        verifier.close()
