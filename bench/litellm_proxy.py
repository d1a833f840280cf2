"""LiteLLM's proxy, side by side with the chat service: the same fake upstream, the same
pacing, the same clients (its OpenAI-compatible HTTP streaming API), one worker, pinned to
the service's core.

It lives in a venv of its own (``bench/results/litellm-venv``, created on first use from
``bench/requirements-litellm.txt``; never the project's ``.venv``). ``BENCH_LITELLM=0`` skips
it. When it cannot be installed or started, :func:`start` raises :class:`Unavailable` with
the reason, and the benchmarks print that reason in LiteLLM's column and a row of their own.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from bench import harness

VENV = harness.ROOT / "bench" / "results" / "litellm-venv"
REQUIREMENTS = harness.ROOT / "bench" / "requirements-litellm.txt"
INSTALL_TIMEOUT = 900


class Unavailable(RuntimeError):
    """LiteLLM could not be installed or started; the message says why, in one line."""


_status: str | None = None  # the reason it is unavailable, once known


def ensure() -> Path:
    """The ``litellm`` executable of the bench's own venv, installing it when missing or when
    the requirements file changed. Raises Unavailable."""
    global _status
    if os.environ.get("BENCH_LITELLM") == "0":
        raise Unavailable("skipped (BENCH_LITELLM=0)")
    if _status is not None:
        raise Unavailable(_status)
    executable = VENV / "bin" / "litellm"
    stamp = VENV / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if executable.exists() and stamp.exists() and stamp.read_text() == wanted:
        return executable
    print(f"  installing LiteLLM's proxy into {VENV} (bench/requirements-litellm.txt)", flush=True)
    try:
        if not (VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=120)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
            check=True,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
    except subprocess.CalledProcessError as exc:
        errors = [line for line in (exc.stderr or "").splitlines() if line.startswith("ERROR")]
        _status = "could not be installed: " + (errors[-1] if errors else f"pip exited with {exc.returncode}")
        raise Unavailable(_status) from exc
    except (subprocess.TimeoutExpired, OSError) as exc:
        _status = f"could not be installed: {type(exc).__name__}: {exc}"
        raise Unavailable(_status) from exc
    if not executable.exists():
        _status = "could not be installed: no litellm executable after pip install"
        raise Unavailable(_status)
    stamp.write_text(wanted)
    return executable


def version() -> str:
    try:
        out = subprocess.run(  # noqa: S603
            [str(VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return out.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


LOG_CONFIG = """version: 1
disable_existing_loggers: false
formatters:
  plain: {format: "%(levelname)s %(name)s %(message)s"}
handlers:
  stderr: {class: logging.StreamHandler, formatter: plain, stream: ext://sys.stderr}
loggers:
  uvicorn: {handlers: [stderr], level: WARNING}
  uvicorn.error: {level: WARNING}
  uvicorn.access: {handlers: [stderr], level: WARNING, propagate: false}
"""


def start(stack: harness.Stack, upstream_base_url: str) -> tuple[harness.Service, str]:
    """LiteLLM's proxy on the service's core with one worker, an OpenAI-compatible model entry
    ``fake-model`` pointing at the fake upstream. Returns the service and its base URL
    (``.../v1``) and keeps the master key in ``service.api_key``. Raises Unavailable."""
    executable = ensure()
    port = harness.free_port()
    config = stack.tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: fake-model\n"
        "    litellm_params:\n"
        "      model: openai/fake-model\n"
        f"      api_base: {upstream_base_url}\n"
        "      api_key: sk-bench\n"
    )
    log_config = stack.tmp / "litellm-log.yaml"
    log_config.write_text(LOG_CONFIG)
    key = "sk-" + secrets.token_hex(32)
    home = stack.tmp / "litellm-home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{VENV / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "LITELLM_MASTER_KEY": key,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the model price list at start
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }
    argv = [
        str(executable),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
        "--log_config",
        str(log_config),
    ]
    try:
        service = stack.start(
            "litellm",
            argv,
            site=None,
            cpu=harness.SERVICE_CPU,
            ready=f"http://127.0.0.1:{port}/health/liveliness",
            env=env,
            timeout=180,
        )
    except RuntimeError as exc:
        last = [line for line in str(exc).splitlines() if line.strip()]
        raise Unavailable(f"did not start: {last[-1][:200] if last else exc}") from exc
    service.api_key = key  # type: ignore[attr-defined]
    return service, f"http://127.0.0.1:{port}/v1"
