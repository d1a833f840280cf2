"""The fake OpenAI server, driven by the real openai SDK (3.57.0, over httpx2) on loopback.

These tests also pin down how each upstream failure surfaces in this SDK version; the chat
provider relies on that (see the fake_openai module docstring). No database is used.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx2
import openai
import pytest

from testkit.fake_openai import (
    FakeOpenAIProcess,
    FakeOpenAIServer,
    break_after,
    default_answer,
    delay_first_byte,
    delay_first_token,
    error,
    error_event_after,
    malformed_after,
    reply,
    split_deltas,
    stall_after,
)

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "hello world"},
]


@pytest.fixture
def server():
    with FakeOpenAIServer(delta_interval=0) as srv:
        yield srv


@pytest.fixture
def client(server):
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as c:
        yield c


@pytest.fixture
async def aclient(server):
    c = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    yield c
    await c.close()


def _collect(stream):
    deltas, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                deltas.append(choice.delta.content)
            finish = choice.finish_reason or finish
    return deltas, finish, usage


async def _acollect(stream, sink=None):
    deltas = [] if sink is None else sink
    finish, usage = None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                deltas.append(choice.delta.content)
            finish = choice.finish_reason or finish
    return deltas, finish, usage


def _stream(client, **kwargs):
    return client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True, **kwargs)


# -- happy paths -----------------------------------------------------------------------------


async def test_async_stream_assembles_echo_with_usage(server, aclient):
    stream = await aclient.chat.completions.create(
        model="gpt-test", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    deltas, finish, usage = await _acollect(stream)
    assert "".join(deltas) == "Echo: hello world" == default_answer({"messages": MESSAGES})
    assert deltas == split_deltas("Echo: hello world", 64)
    assert finish == "stop"
    assert usage.completion_tokens == len(deltas)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    assert server.streams_completed == 1


def test_sync_stream_scripted_deltas_and_usage(server, client):
    server.enqueue(reply(["Hel", "lo", " there"], usage={"prompt_tokens": 11, "completion_tokens": 3}))
    with _stream(client, stream_options={"include_usage": True}) as stream:
        deltas, finish, usage = _collect(stream)
    assert deltas == ["Hel", "lo", " there"]
    assert finish == "stop"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 3, 14)


def test_stream_without_include_usage_has_no_usage_chunk(server, client):
    server.enqueue(reply("abcdefgh", delta_count=4, finish_reason="length"))
    deltas, finish, usage = _collect(_stream(client))
    assert deltas == ["ab", "cd", "ef", "gh"]
    assert (finish, usage) == ("length", None)


def test_non_streamed_reply_sync_and_async(server, client):
    completion = client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-test"
    assert completion.choices[0].message.content == "Echo: hello world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens

    async def run():
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0) as ac:
            server.enqueue(reply("scripted", usage={"completion_tokens": 2}))
            return await ac.chat.completions.create(model="gpt-test", messages=MESSAGES)

    completion = asyncio.run(run())
    assert completion.choices[0].message.content == "scripted"
    assert completion.usage.completion_tokens == 2


def test_models_endpoint(client):
    assert [m.id for m in client.models.list()] == ["fake-model"]
    assert client.models.retrieve("gpt-x").id == "gpt-x"


def test_records_the_exact_request(server, client):
    _collect(
        _stream(
            client,
            temperature=0.3,
            max_tokens=256,
            stream_options={"include_usage": True},
            extra_headers={"X-Request-Id": "rid-123"},
        )
    )
    [req] = server.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.authorization == "Bearer sk-test" and req.api_key == "sk-test"
    assert req.request_id == "rid-123"
    assert req.json == {
        "messages": MESSAGES,
        "model": "gpt-test",
        "max_tokens": 256,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
    }
    assert req.behaviour is not None and req.behaviour.kind == "reply"
    assert server.last_request is req
    assert server.requests_served == 1


async def test_keep_alive_async_reuses_one_connection(server, aclient):
    for _ in range(3):
        await _acollect(await aclient.chat.completions.create(model="m", messages=MESSAGES, stream=True))
        await aclient.chat.completions.create(model="m", messages=MESSAGES)
    assert len({r.connection_id for r in server.requests}) == 1
    assert server.connections_total == 1


def test_keep_alive_sync_stream_drops_its_connection(server, client):
    """SDK fact: the sync ``Stream`` stops reading at [DONE] and closes the response without
    draining the terminating chunk, so httpx2 discards that connection; ``AsyncStream``
    drains it and keeps it. Non-streamed responses are reused either way."""
    for _ in range(2):
        _collect(_stream(client))
        client.chat.completions.create(model="m", messages=MESSAGES)
    ids = [r.connection_id for r in server.requests]
    assert ids[1] == ids[2] and ids[0] != ids[1] and ids[3] != ids[2]


def test_queue_then_default_and_header_override(server, client):
    server.set_default(reply("default!"))
    server.enqueue(reply("one"), times=2)
    texts = [client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content for _ in range(3)]
    assert texts == ["one", "one", "default!"]
    override = json.dumps(reply("from header").to_dict())
    c = client.with_options(default_headers={"X-Fake-Behaviour": override})
    assert c.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "from header"


def test_pacing_delta_size_pads_to_exact_count_and_interval():
    with FakeOpenAIServer(delta_count=16, delta_interval=0.01, delta_size=4) as srv:
        with openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0) as c:
            started = time.monotonic()
            deltas, _, _ = _collect(_stream(c))
            elapsed = time.monotonic() - started
    assert len(deltas) == 16 and all(len(d) == 4 for d in deltas)
    assert "".join(deltas).startswith("Echo: hello world")
    assert 0.14 <= elapsed < 2.0


# -- HTTP errors -----------------------------------------------------------------------------


def test_500_raises_internal_server_error(server, client):
    server.enqueue(error(500))
    with pytest.raises(openai.InternalServerError) as exc_info:
        _stream(client)
    assert exc_info.value.status_code == 500
    assert exc_info.value.request_id.startswith("req_fake")
    assert exc_info.value.body["type"] == "server_error"


def test_429_with_retry_after_raises_rate_limit_error(server, client):
    server.enqueue(error(429, headers={"Retry-After": "7"}))
    with pytest.raises(openai.RateLimitError) as exc_info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert exc_info.value.status_code == 429
    assert exc_info.value.response.headers["retry-after"] == "7"
    assert exc_info.value.body["code"] == "rate_limit_exceeded"


def test_sdk_retries_429_and_then_succeeds(server):
    server.enqueue(error(429, headers={"Retry-After-Ms": "10"}))
    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=1) as c:
        assert c.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "Echo: hello world"
    assert len(server.requests) == 2


def test_401_and_required_api_key():
    with FakeOpenAIServer(require_api_key="sk-good", delta_interval=0) as srv:
        with openai.OpenAI(base_url=srv.base_url, api_key="sk-bad", max_retries=0) as c:
            with pytest.raises(openai.AuthenticationError):
                c.models.list()
        with openai.OpenAI(base_url=srv.base_url, api_key="sk-good", max_retries=0) as c:
            assert c.models.list().data
            srv.enqueue(error(401, json={"error": {"message": "revoked"}}))
            with pytest.raises(openai.AuthenticationError, match="revoked"):
                c.chat.completions.create(model="m", messages=MESSAGES)


def test_raw_error_body(server, client):
    server.enqueue(error(503, "upstream overloaded", headers={"content-type": "text/plain"}))
    with pytest.raises(openai.InternalServerError) as exc_info:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert exc_info.value.status_code == 503


# -- timing, stalls, broken streams ----------------------------------------------------------


def test_stall_triggers_read_timeout_mid_stream(server):
    server.enqueue(stall_after(3))
    received = []
    with openai.OpenAI(
        base_url=server.base_url, api_key="k", max_retries=0, timeout=httpx2.Timeout(5.0, read=0.3)
    ) as c:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError) as exc_info:
            for chunk in _stream(c):
                received.extend(ch.delta.content for ch in chunk.choices if ch.delta.content)
        assert isinstance(exc_info.value.__cause__, httpx2.ReadTimeout)
        assert 0.25 < time.monotonic() - started < 3
    assert received == split_deltas("Echo: hello world", 64)[:3]
    # The client gave up and closed the socket: the server sees it and frees the connection.
    assert server.wait_until(lambda s: s.connections_open == 0 and s.streams_aborted == 1)


async def test_stall_for_seconds_resumes(server, aclient):
    server.enqueue(stall_after(2, seconds=0.2))
    started = time.monotonic()
    deltas, finish, _ = await _acollect(
        await aclient.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    )
    assert "".join(deltas) == "Echo: hello world" and finish == "stop"
    assert time.monotonic() - started >= 0.2


def test_delay_first_byte_times_out_create(server):
    server.enqueue(delay_first_byte(1.0))
    with openai.OpenAI(
        base_url=server.base_url, api_key="k", max_retries=0, timeout=httpx2.Timeout(5.0, read=0.2)
    ) as c:
        with pytest.raises(openai.APITimeoutError):
            _stream(c)


async def test_delay_first_token_headers_first(server):
    server.enqueue(delay_first_token(0.5))
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="k", max_retries=0, timeout=httpx2.Timeout(5.0, read=1.0)
    ) as ac:
        started = time.monotonic()
        stream = await ac.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        headers_after = time.monotonic() - started
        deltas, _, _ = await _acollect(stream)
        total = time.monotonic() - started
    assert headers_after < 0.4 and total >= 0.5
    assert "".join(deltas) == "Echo: hello world"
    server.enqueue(delay_first_token(0.5))
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="k", max_retries=0, timeout=httpx2.Timeout(5.0, read=0.2)
    ) as ac:
        stream = await ac.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APITimeoutError):
            await _acollect(stream)


def test_break_after_raises_connection_error_sync(server, client):
    server.enqueue(break_after(4))
    received = []
    with pytest.raises(openai.APIConnectionError) as exc_info:
        for chunk in _stream(client):
            received.extend(ch.delta.content for ch in chunk.choices if ch.delta.content)
    assert not isinstance(exc_info.value, openai.APITimeoutError)
    assert isinstance(exc_info.value.__cause__, httpx2.RemoteProtocolError)
    assert received == split_deltas("Echo: hello world", 64)[:4]


async def test_break_after_raises_connection_error_async(server, aclient):
    server.enqueue(break_after(2))
    received: list[str] = []
    stream = await aclient.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError) as exc_info:
        await _acollect(stream, received)
    assert isinstance(exc_info.value.__cause__, httpx2.RemoteProtocolError)
    assert len(received) == 2
    # The SDK reconnects for the next request.
    deltas, finish, _ = await _acollect(
        await aclient.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    )
    assert finish == "stop"


def test_malformed_chunk_raises_json_decode_error(server, client):
    server.enqueue(malformed_after(1))
    with pytest.raises(json.JSONDecodeError) as exc_info:
        _collect(_stream(client))
    assert not isinstance(exc_info.value, openai.OpenAIError)  # escapes the SDK's hierarchy


async def test_malformed_chunk_raises_json_decode_error_async(server, aclient):
    server.enqueue(malformed_after(0))
    stream = await aclient.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with pytest.raises(ValueError):
        await _acollect(stream)


def test_error_event_mid_stream_raises_api_error(server, client):
    server.enqueue(error_event_after(2, "model crashed"))
    with pytest.raises(openai.APIError, match="model crashed") as exc_info:
        _collect(_stream(client))
    assert not isinstance(exc_info.value, (openai.APIStatusError, openai.APIConnectionError))


def test_server_bad_request_is_400(server, client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="", messages=MESSAGES)


def test_raw_http_keepalive_and_chunked_framing(server):
    """Byte-level check of the framing, independent of the SDK."""
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        request = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        sock.sendall(request + b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    first, second = data.split(b"0\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and b"transfer-encoding: chunked" in first
    assert b"data: [DONE]\n\n\r\n" in first
    assert second.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close" in second


# -- scale and subprocess mode ---------------------------------------------------------------


async def test_200_concurrent_streams_complete():
    n = 200
    async with FakeOpenAIServer(delta_count=16, delta_interval=0.005) as srv:
        async with openai.AsyncOpenAI(base_url=srv.base_url, api_key="k", max_retries=0) as ac:

            async def one(i):
                stream = await ac.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": f"message number {i}"}],
                    stream=True,
                    stream_options={"include_usage": True},
                )
                return await _acollect(stream)

            results = await asyncio.gather(*(one(i) for i in range(n)))
        for i, (deltas, finish, usage) in enumerate(results):
            assert "".join(deltas) == f"Echo: message number {i}"
            assert finish == "stop" and usage.completion_tokens == len(deltas) == 16
        assert srv.streams_completed == n and srv.requests_served == n
        assert srv.peak_connections_open >= n
        for _ in range(200):  # client closed: connections drain
            if srv.connections_open == 0:
                break
            await asyncio.sleep(0.01)
        assert srv.connections_open == 0


def test_subprocess_mode():
    with FakeOpenAIProcess(delta_count=8, delta_interval=0.0, delta_size=3) as proc:
        with openai.OpenAI(base_url=proc.base_url, api_key="k", max_retries=0) as c:
            deltas, finish, usage = _collect(_stream(c, stream_options={"include_usage": True}))
            assert len(deltas) == 8 and all(len(d) == 3 for d in deltas) and usage.completion_tokens == 8
            proc.enqueue(error(429, headers={"Retry-After": "1"}), reply("scripted"))
            with pytest.raises(openai.RateLimitError):
                c.chat.completions.create(model="m", messages=MESSAGES)
            assert c.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == "scripted"
        stats = proc.stats()
        assert stats["requests_served"] == 3 and stats["streams_completed"] == 1
        assert [r["json"]["model"] for r in proc.requests()] == ["gpt-test", "m", "m"]
        proc.reset()
        assert proc.stats()["requests_served"] == 0


def test_stop_closes_stalled_streams():
    srv = FakeOpenAIServer(delta_interval=0, default=stall_after(1)).start()
    with openai.OpenAI(base_url=srv.base_url, api_key="k", max_retries=0, timeout=5.0) as c:
        stream = _stream(c)
        next(iter(stream))
        assert srv.wait_until(lambda s: s.streams_open == 1)
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(openai.APIConnectionError):
            _collect(stream)
    assert srv.connections_open == 0
