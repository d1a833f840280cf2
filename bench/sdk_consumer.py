"""The direct baselines: a bare ``openai`` SDK consumer reading the fake upstream.

``python -m bench.sdk_consumer BASE_URL [--mode raw|sdk] [--loop asyncio|uvloop] [--http-client aiohttp|httpx]``

Two modes, one client (``AsyncOpenAI``, no retries; over the SDK's aiohttp transport, as the
chat service's default ``OPENAI_HTTP_CLIENT``, unless ``--http-client httpx``), the request the
chat service makes (``stream=True``, ``include_usage``):

* ``raw``: what the chat service's openai provider does and nothing else:
  ``client.chat.completions.with_streaming_response.create(...)``, then
  ``response.http_response.aiter_bytes()``, split into lines, and each ``data:`` line parsed
  with orjson. The relay's CPU is compared with this one.
* ``sdk``: the SDK's object stream (``async for chunk in stream``, a pydantic model per
  chunk), kept as context.

Runs as a subprocess pinned to the service's core (it stands where the service would stand).
Reads one JSON command a line on stdin (``{"n": 8, "concurrency": 4}``), runs ``n`` streams
at most ``concurrency`` at a time (``concurrency`` of them start at the same instant), and
answers one JSON line: per stream the time to the first content delta, the gaps between
deltas, frames and deltas counted, plus this process's CPU seconds for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import openai
import orjson

MESSAGES = [{"role": "user", "content": "bench"}]


async def _one_sdk(client: openai.AsyncOpenAI) -> dict:
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model="fake-model", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    times = []
    finished = False
    async for chunk in stream:
        for choice in chunk.choices or ():
            if choice.delta is not None and choice.delta.content:
                times.append(time.perf_counter())
            if choice.finish_reason:
                finished = True
    return _result(start, times, finished)


async def _one_raw(client: openai.AsyncOpenAI) -> dict:
    start = time.perf_counter()
    times = []
    finished = False
    create = client.chat.completions.with_streaming_response.create
    async with create(
        model="fake-model", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as response:
        pending = b""
        async for data in response.http_response.aiter_bytes():
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    continue
                chunk = orjson.loads(payload)
                for choice in chunk.get("choices") or ():
                    delta = choice.get("delta")
                    if delta and delta.get("content"):
                        times.append(time.perf_counter())
                    if choice.get("finish_reason"):
                        finished = True
    return _result(start, times, finished)


def _result(start: float, times: list[float], finished: bool) -> dict:
    # One upstream chunk carries one delta: frames == deltas, in order by construction.
    return {
        "ttft": times[0] - start if times else None,
        "gaps": [b - a for a, b in zip(times, times[1:], strict=False)],
        "deltas": len(times),
        "frames": len(times),
        "contiguous": True,
        "done": finished,
        "errors": 0 if finished else 1,
    }


async def _run(client: openai.AsyncOpenAI, one, n: int, concurrency: int) -> dict:
    gate = asyncio.Semaphore(concurrency)

    async def gated():
        async with gate:
            return await one(client)

    cpu = time.process_time()
    wall = time.perf_counter()
    streams = await asyncio.gather(*(gated() for _ in range(n)))
    return {"streams": streams, "cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}


async def main(base_url: str, mode: str, http_client: str) -> None:
    transport = openai.DefaultAioHttpClient() if http_client == "aiohttp" else None
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0, http_client=transport)
    one = _one_raw if mode == "raw" else _one_sdk
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        result = await _run(client, one, command["n"], command["concurrency"])
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_consumer")
    parser.add_argument("base_url")
    parser.add_argument("--mode", choices=("raw", "sdk"), default="raw")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--http-client", choices=("aiohttp", "httpx"), default="aiohttp")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main(args.base_url, args.mode, args.http_client))
    else:
        asyncio.run(main(args.base_url, args.mode, args.http_client))
