"""Model-stream metrics after real traffic: time to first token, tokens, outcomes, failures."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from testkit.fake_openai import error, reply

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_model_stream_metrics_count_replies_tokens_and_failures(api, alice, upstream):
    # given
    base = {
        "complete": sample("chat_model_streams_total", provider="openai", model="gpt-4o-mini", outcome="complete"),
        "failed": sample("chat_model_failures_total", provider="openai", code="upstream_error"),
        "ttft": sample("chat_model_time_to_first_token_seconds_count", provider="openai", model="gpt-4o-mini"),
        "completion": sample("chat_model_tokens_total", provider="openai", model="gpt-4o-mini", kind="completion"),
    }
    upstream.enqueue(reply(["a", "b"], usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}))
    upstream.enqueue(error(500))
    # when
    assert api.post("/v1/chat/ai", {"message": "hi"}, format="json", **alice.headers).status_code == 200
    assert api.post("/v1/chat/ai", {"message": "hi"}, format="json", **alice.headers).status_code == 502
    # then
    labels = {"provider": "openai", "model": "gpt-4o-mini"}
    assert sample("chat_model_streams_total", outcome="complete", **labels) == base["complete"] + 1
    assert sample("chat_model_failures_total", provider="openai", code="upstream_error") == base["failed"] + 1
    assert sample("chat_model_time_to_first_token_seconds_count", **labels) == base["ttft"] + 1
    assert sample("chat_model_tokens_total", kind="completion", **labels) == base["completion"] + 2
    # and the ASGI app serves them at /metrics
    body = api.get("/metrics").content.decode()
    assert "chat_model_time_to_first_token_seconds_bucket" in body
