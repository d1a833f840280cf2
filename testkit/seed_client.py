"""The seed platform's client, for the compatibility test: the seed's protos
(``testkit/seed/protos``) driven by ``@grpc/grpc-js`` and ``@grpc/proto-loader`` under node
(``testkit/seed/client.cjs``), so that neither grpcio nor our generated stubs are involved.

The npm packages are pinned by ``testkit/seed/package-lock.json`` and installed with ``npm ci``
into ``var/seed-client/`` (not in git), once per version of the lock file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from testkit.processes import ROOT

SEED = ROOT / "testkit" / "seed"
SCRIPT = SEED / "client.cjs"
INSTALL_DIR = ROOT / "var" / "seed-client"


def seed_client_install(npm: str, install_dir: Path = INSTALL_DIR) -> Path:
    """``node_modules`` with the locked packages; installs them when the lock file changed."""
    lock = (SEED / "package-lock.json").read_bytes()
    stamp = install_dir / "installed.sha256"
    digest = hashlib.sha256(lock).hexdigest()
    modules = install_dir / "node_modules"
    if stamp.exists() and stamp.read_text() == digest and modules.is_dir():
        return modules
    install_dir.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(SEED / name, install_dir / name)
    stamp.unlink(missing_ok=True)
    # --ignore-scripts: nothing these packages need runs at install time.
    subprocess.run(  # noqa: S603 - fixed arguments
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=install_dir,
        check=True,
        timeout=300,
    )
    stamp.write_text(digest)
    return modules


def seed_client_run(node: str, modules: Path, *, auth_grpc: str, chat_grpc: str, auth_url: str, chat_url: str) -> dict:
    """Run the client against the four addresses; its report, or AssertionError with its output."""
    env = {
        **os.environ,
        "NODE_PATH": str(modules),
        "AUTH_GRPC": auth_grpc,
        "CHAT_GRPC": chat_grpc,
        "AUTH_URL": auth_url,
        "CHAT_URL": chat_url,
    }
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise AssertionError(f"the seed client failed ({done.returncode}):\n{done.stderr}\n{done.stdout}")
    return json.loads(done.stdout.strip().splitlines()[-1])
