"""``python -m bench [--only a,b,...] [--quick]``: run the benchmarks, print the table, save
``bench/results/latest.json``.

a stream relay, b concurrent streams, c database work per reply, d REST list vs bare view,
e per-request authentication vs ValidateToken, f gRPC vs bare grpcio, g sign-in vs Argon2.
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

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="abcdefg", help="which benchmarks, e.g. 'ac' (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run, not for the record)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.chdir(harness.ROOT)
    sys.path.insert(0, str(harness.ROOT))
    from testkit.fake_openai import raise_fd_limit

    raise_fd_limit()
    harness.pin_self()
    report = Report()
    report.context.update(
        service_cpu=harness.SERVICE_CPU,
        load_cpu=harness.LOAD_CPU,
        pinned=harness.PINNED,
        quick=args.quick,
        command="python -m bench" + (f" --only {args.only}" if args.only != "abcdefg" else ""),
    )
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
            t0 = time.monotonic()
            try:
                steps[key][1](report, stack, auth.address)
            except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the others
                traceback.print_exc()
                report.errors[key] = f"{type(exc).__name__}: {exc}"
            report.context[f"seconds_{key}"] = round(time.monotonic() - t0, 1)
    report.context["seconds_total"] = round(time.monotonic() - started, 1)
    report.save(args.out)
    print()
    print(report.table())
    print(f"\nsaved {args.out} ({report.context['seconds_total']} s)")
    return 1 if report.errors else 0


def _steps(quick: bool) -> dict:
    from bench import auth_cost, db_work, grpc_bench, relay, rest, signin

    rounds = 3 if quick else 7
    return {
        "a": (
            "stream relay vs the bare SDK",
            lambda r, s, a: relay.relay(r, s, a, rounds=rounds, per_round=8, concurrency=4),
        ),
        "b": (
            "concurrent streams on one worker",
            lambda r, s, a: relay.concurrent(
                r, s, a, levels=[100, 250] if quick else [100, 250, 500, 1000], idle=250 if quick else 1000
            ),
        ),
        "c": ("database work per reply", lambda r, s, a: db_work.run(r, s, a, replies=50 if quick else 200)),
        "d": (
            "REST list vs bare view",
            lambda r, s, a: rest.run(r, s, a, rounds=rounds, seconds=1.0 if quick else 2.0),
        ),
        "e": ("per-request authentication vs ValidateToken", lambda r, s, a: auth_cost.run(r, s, a)),
        "f": (
            "gRPC vs bare grpcio",
            lambda r, s, a: grpc_bench.run(r, s, a, rounds=rounds, streams=50 if quick else 200),
        ),
        "g": ("sign-in vs Argon2", lambda r, s, a: signin.run(r, s, a, seconds=3.0 if quick else 6.0)),
    }


if __name__ == "__main__":
    sys.exit(main())
