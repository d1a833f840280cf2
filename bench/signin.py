# ruff: noqa: S603 - bench harness: fixed argv of our own modules; closures run inside their loop iteration
"""(g) Sign-in throughput against the Argon2 ceiling measured in the same run (the production
hasher's cost, on the same core, ``PASSWORD_HASH_CONCURRENCY`` hashes at once), and REST reads'
p99 latency during a sign-in flood versus without one."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from bench import harness, httpload
from bench.harness import pct
from bench.report import Report
from bench.targets import Target, at_least, at_most, equal

OWASP_WHY = "the production Argon2 parameters are below OWASP's minimum (m=19 MiB, t=2, p=1)"
SIGNINS_VS_CEILING = at_least(
    0.8,
    "x",
    "the hashing slots sit idle part of the time: PASSWORD_HASH_MAX_WAITING queues too few sign-ins, so "
    "callers are refused (and wait out Retry-After) while a slot is free",
)
READ_P99_FLOOD = at_most(
    2,
    "x",
    "the hashing threads, even at low priority, share the one core and the GIL with the request threads",
)
NO_ERRORS = equal(0, "0", "reads failed during the flood: see the service's log")

CEILING = r"""
import os, sys, threading, time
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings_auth"
import django; django.setup()
from django.contrib.auth.hashers import get_hasher
from django.conf import settings
hasher = get_hasher()
encoded = hasher.encode("Bench-Tr0ub4dor&3-horse", hasher.salt())
seconds = float(sys.argv[1]); count = 0; lock = threading.Lock(); stop = time.perf_counter() + seconds
def work():
    global count
    while time.perf_counter() < stop:
        hasher.verify("Bench-Tr0ub4dor&3-horse", encoded)
        with lock: count += 1
threads = [threading.Thread(target=work) for _ in range(settings.PASSWORD_HASH_CONCURRENCY)]
t0 = time.perf_counter(); [t.start() for t in threads]; [t.join() for t in threads]
print(json.dumps({"rate": count / (time.perf_counter() - t0), "algorithm": hasher.algorithm,
      "time_cost": hasher.time_cost, "memory_cost_kib": hasher.memory_cost, "parallelism": hasher.parallelism,
      "concurrency": settings.PASSWORD_HASH_CONCURRENCY}))
""".replace("import os, sys", "import json, os, sys")


def run(report: Report, stack: harness.Stack, auth_target: str, *, seconds: float) -> None:
    out = subprocess.run(
        harness.pinned([sys.executable, "-c", CEILING, str(seconds)], harness.SERVICE_CPU),
        env=stack.env("auth"),
        cwd=harness.ROOT,  # noqa: S603
        capture_output=True,
        text=True,
        check=True,
    )
    ceiling = json.loads(out.stdout.strip().splitlines()[-1])
    admin_email = "bench-admin@example.com"
    subprocess.run(
        [sys.executable, "manage_auth.py", "createsuperuser", "--noinput", "--email", admin_email],  # noqa: S603
        env={**stack.env("auth"), "DJANGO_SUPERUSER_PASSWORD": harness.PASSWORD},
        cwd=harness.ROOT,
        check=True,
        capture_output=True,
    )
    user = harness.sign_up(auth_target)[0]
    auth = harness.auth_rest(
        stack, env={"GUNICORN_MAX_REQUESTS": "0", "PROMETHEUS_MULTIPROC_DIR": str(stack.tmp / "prom")}
    )
    (stack.tmp / "prom").mkdir(exist_ok=True)
    try:
        asyncio.run(_run(report, auth, user, admin_email, ceiling, seconds))
    finally:
        stack.stop(auth)


async def _run(report, auth, user, admin_email, ceiling, seconds) -> None:
    address = auth.address.split("//")[1].split("/")[0]
    host = "127.0.0.1"

    def signin(email):
        return httpload.build(
            "POST", "/v1/auth/signin", host, body=json.dumps({"email": email, "password": harness.PASSWORD}).encode()
        )

    admin = await httpload.closed_loop(address, [signin(admin_email)], connections=1, seconds=0.01)
    assert admin["statuses"] == {200: admin["count"]}, admin["statuses"]
    reader, writer = await asyncio.open_connection(*address.split(":"))
    head, body = signin(admin_email)
    _, payload = await httpload._request(reader, writer, head, body)
    writer.close()
    token = json.loads(payload)["tokens"]["access_token"]
    read = httpload.build("GET", "/v1/users?limit=20", host, {"Authorization": f"Bearer {token}"})
    flood_clients = 8
    flood = await httpload.closed_loop(
        address, [signin(user.email)], connections=flood_clients, seconds=seconds, honour_retry_after=True
    )
    # Only successful sign-ins count; beyond the hashing slots and queue, callers get 429 and
    # wait out its Retry-After before trying again.
    rate = flood["statuses"].get(200, 0) / flood["wall"]
    quiet = await httpload.closed_loop(address, [read], connections=1, seconds=seconds)
    flood_task = asyncio.create_task(
        httpload.closed_loop(
            address, [signin(user.email)], connections=flood_clients, seconds=seconds + 0.5, honour_retry_after=True
        )
    )
    await asyncio.sleep(0.25)
    busy = await httpload.closed_loop(address, [read], connections=1, seconds=seconds)
    during = await flood_task
    quiet_p99, busy_p99 = pct(quiet["latencies"], 99), pct(busy["latencies"], 99)
    b = "g"
    owasp = ceiling["memory_cost_kib"] >= 19 * 1024 and ceiling["time_cost"] >= 2 and ceiling["parallelism"] >= 1
    report.add(
        b,
        "production hash cost (argon2id)",
        ceiling["memory_cost_kib"] / 1024,
        "MiB",
        target=Target("m>=19 MiB, t>=2, p>=1", lambda _: owasp, OWASP_WHY),
        note=f"t={ceiling['time_cost']}, p={ceiling['parallelism']}",
    )
    report.add(
        b,
        "Argon2 verify ceiling on the service core",
        ceiling["rate"],
        "hashes/s",
        note=f"{ceiling['concurrency']} at once (PASSWORD_HASH_CONCURRENCY)",
    )
    report.add(
        b,
        "sign-ins/s through REST (gunicorn, 1 worker)",
        rate,
        "/s",
        note=f"{flood_clients} clients honouring Retry-After; statuses {flood['statuses']}; "
        f"{flood['waited_s']:.1f} s waited in all",
        near_ceiling=rate >= 0.9 * ceiling["rate"],
    )
    report.add(b, "sign-ins/s / hash ceiling", rate / ceiling["rate"], "x", target=SIGNINS_VS_CEILING)
    report.add(b, "REST read p99 without a flood", quiet_p99 * 1e3, "ms", note="GET /v1/users (admin)")
    report.add(
        b,
        "REST read p99 during a sign-in flood",
        busy_p99 * 1e3,
        "ms",
        note=f"flood {during['statuses'].get(200, 0) / during['wall']:.1f} sign-ins/s, statuses {during['statuses']}",
    )
    report.add(b, "read p99 with flood / without", busy_p99 / quiet_p99, "x", target=READ_P99_FLOOD)
    report.add(
        b,
        "non-2xx answers",
        sum(v for k, v in {**quiet["statuses"], **busy["statuses"]}.items() if k != 200),
        "",
        target=NO_ERRORS,
    )
