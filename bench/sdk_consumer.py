"""The direct baseline: a bare ``openai`` SDK consumer reading the fake upstream.

Runs as a subprocess pinned to the service's core (it stands where the service would stand).
Reads one JSON command a line on stdin (``{"n": 8, "concurrency": 4}``), runs ``n`` streams
at most ``concurrency`` at a time, and answers one JSON line: per stream the time to the
first content delta and the gaps between deltas, plus this process's CPU seconds for the run.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import openai


async def _one(client: openai.AsyncOpenAI) -> dict:
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "bench"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    times = []
    async for chunk in stream:
        for choice in chunk.choices or ():
            if choice.delta is not None and choice.delta.content:
                times.append(time.perf_counter())
    return {
        "ttft": times[0] - start if times else None,
        "gaps": [b - a for a, b in zip(times, times[1:], strict=False)],
        "deltas": len(times),
    }


async def _run(client: openai.AsyncOpenAI, n: int, concurrency: int) -> dict:
    gate = asyncio.Semaphore(concurrency)

    async def gated():
        async with gate:
            return await _one(client)

    cpu = time.process_time()
    wall = time.perf_counter()
    streams = await asyncio.gather(*(gated() for _ in range(n)))
    return {"streams": streams, "cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}


async def main() -> None:
    base_url = sys.argv[1]
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        result = await _run(client, command["n"], command["concurrency"])
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
