"""Prometheus metrics of model streams: time to first token, tokens, outcomes, failures.

Served at ``/metrics`` by the chat ASGI app (django-prometheus) and on ``GRPC_METRICS_PORT``
by the chat gRPC process.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MODEL_STREAMS = Counter(
    "chat_model_streams_total", "Model replies by how they ended.", ["provider", "model", "outcome"]
)
MODEL_FAILURES = Counter("chat_model_failures_total", "Failed model replies by error code.", ["provider", "code"])
MODEL_TOKENS = Counter("chat_model_tokens_total", "Tokens reported by the model API.", ["provider", "model", "kind"])
MODEL_DELTAS = Counter("chat_model_deltas_total", "Deltas relayed to clients.", ["provider", "model"])
TIME_TO_FIRST_TOKEN = Histogram(
    "chat_model_time_to_first_token_seconds",
    "From the request to the model API to its first delta.",
    ["provider", "model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
)


def reply_observe(
    *,
    provider: str,
    model: str,
    outcome: str,
    error_code: str,
    first_token_seconds: float | None,
    deltas: int,
    prompt_tokens: int,
    completion_tokens: int,
) -> None:
    MODEL_STREAMS.labels(provider, model, outcome).inc()
    if error_code:
        MODEL_FAILURES.labels(provider, error_code).inc()
    if first_token_seconds is not None:
        TIME_TO_FIRST_TOKEN.labels(provider, model).observe(first_token_seconds)
    if deltas:
        MODEL_DELTAS.labels(provider, model).inc(deltas)
    if prompt_tokens:
        MODEL_TOKENS.labels(provider, model, "prompt").inc(prompt_tokens)
    if completion_tokens:
        MODEL_TOKENS.labels(provider, model, "completion").inc(completion_tokens)
