"""``python -m bench [--only abcdefgh] [--quick]``: run the benchmarks, print the table and
write the results: a full run (every benchmark, not quick) writes the recorded page,
``bench/RESULTS.md`` and ``bench/RESULTS.json``; any other run writes
``bench/results/latest.md`` and ``.json`` (``--out STEM`` chooses).

a stream relay (asyncio+h11 and uvloop+httptools, raw and SDK consumers, LiteLLM's proxy),
b concurrent streams (and LiteLLM's proxy), c database work per reply, d REST list vs bare
view, e per-request authentication vs ValidateToken, f gRPC vs a plain grpcio servicer doing
the same work, g sign-in vs Argon2, h search over 100,000 messages. ``BENCH_LITELLM=0`` leaves LiteLLM out.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import harness
from bench.report import Report

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "RESULTS"  # .md and .json: a full run
LATEST = HERE / "results" / "latest"  # .md and .json: any other run
ALL = "abcdefgh"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=ALL, help="which benchmarks, e.g. 'ac' (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, not for the record)")
    parser.add_argument("--out", type=Path, default=None, help="where to write STEM.md and STEM.json")
    args = parser.parse_args(argv)
    full = sorted(set(args.only)) == sorted(ALL) and not args.quick
    out = args.out or (RECORDED if full else LATEST)
    os.chdir(harness.ROOT)
    sys.path.insert(0, str(harness.ROOT))
    from testkit.fake_openai import raise_fd_limit

    raise_fd_limit()
    harness.pin_self()
    nice = harness.raise_priority()
    report = Report()
    report.context.update(
        nice=nice,
        service_cpu=harness.SERVICE_CPU,
        load_cpu=harness.LOAD_CPU,
        pinned=harness.PINNED,
        quick=args.quick,
        cpus=len(harness._CPUS),
        command="bench/run" + (f" --only {args.only}" if args.only != ALL else "") + (" --quick" if args.quick else ""),
    )
    report.context["tree"] = _tree()
    started = time.monotonic()
    print(f"service under test on CPU {harness.SERVICE_CPU}; upstream and load generator on CPU {harness.LOAD_CPU}")
    with tempfile.TemporaryDirectory(prefix="chatai-bench-") as tmp, harness.stack(Path(tmp)) as stack:
        report.context["database"] = "postgresql" if stack.postgres else "sqlite"
        auth = harness.auth_grpc(stack)
        steps = _steps(args.quick)
        for key in args.only:
            if key not in steps:
                continue
            print(f"--- {key}: {steps[key][0]}", flush=True)
            report.steps[key] = steps[key][0]
            t0 = time.monotonic()
            try:
                steps[key][1](report, stack, auth.address)
            except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
                traceback.print_exc()
                report.errors[key] = f"{type(exc).__name__}: {exc}"
            report.context[f"seconds_{key}"] = round(time.monotonic() - t0, 1)
    report.context["seconds_total"] = round(time.monotonic() - started, 1)
    report.context["start_failures"] = harness.START_FAILURES
    if full and report.errors:
        out = LATEST  # a run with a failed benchmark is not the record
        print("\nsome benchmarks failed: not writing bench/RESULTS.*")
    json_path, md_path = report.save(out)
    print()
    print(report.table())
    print(f"\nwrote {md_path} and {json_path} ({report.context['seconds_total']} s)")
    return 1 if report.errors else 0


def _tree() -> str:
    """The commit measured, and whether files outside bench/ differ from it (the service's code
    under test may be uncommitted work)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            cwd=harness.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],  # noqa: S607
            cwd=harness.ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}" + (f" with {len(changed)} modified files outside bench/" if changed else "")


def _steps(quick: bool) -> dict:
    from bench import auth_cost, db_work, grpc_bench, relay, rest, search_bench, signin

    rounds = 3 if quick else 7
    return {
        "a": (
            "Stream relay, one reply at a time and four at once, at 20 ms pacing: the chat service under "
            "uvicorn with asyncio+h11 and with uvloop+httptools, against a raw SDK consumer (the SDK's raw "
            "response over its aiohttp transport, as the service, orjson per data line, nothing else) on the "
            "same core and event loop, the SDK's object stream (httpx transport) as context, and LiteLLM's proxy.",
            lambda r, s, a: relay.relay(r, s, a, rounds=3 if quick else 5, solo=2, four=8),
        ),
        "b": (
            "Concurrent streams on one worker (uvloop+httptools) at 20 ms pacing: every delta delivered, the "
            "added p99 gap between frames, frames per delta; LiteLLM's proxy at 250 and 500.",
            lambda r, s, a: relay.concurrent(
                r,
                s,
                a,
                levels=[100, 250] if quick else [100, 250, 500, 1000],
                idle=250 if quick else 1000,
                litellm_levels=[250] if quick else [250, 500],
            ),
        ),
        "c": (
            "Database statements per reply and the final save's latency, in process.",
            lambda r, s, a: db_work.run(r, s, a, replies=50 if quick else 200),
        ),
        "d": (
            "Authenticated REST list (DRF) against a bare JsonResponse view doing the same query.",
            lambda r, s, a: rest.run(r, s, a, rounds=rounds, seconds=1.0 if quick else 2.0),
        ),
        "e": (
            "Per-request token verification against the seed's ValidateToken call.",
            lambda r, s, a: auth_cost.run(r, s, a),
        ),
        "f": (
            "gRPC ListConversations through django-grpc-framework against a plain grpcio servicer doing the "
            "same token verification and ORM queries; health checks under streams.",
            lambda r, s, a: grpc_bench.run(r, s, a, rounds=rounds, streams=50 if quick else 200),
        ),
        "g": (
            "Sign-in throughput against the Argon2 ceiling (clients honour 429 Retry-After), and reads "
            "during a sign-in flood.",
            lambda r, s, a: signin.run(r, s, a, seconds=3.0 if quick else 6.0),
        ),
        "h": (
            "Search over one user's 100,000 messages (PostgreSQL full-text search), in process: latency "
            "for a rare, a common and a two-word query, and whether the full-text index answers.",
            lambda r, s, a: search_bench.run(r, s, a),
        ),
    }


if __name__ == "__main__":
    sys.exit(main())
