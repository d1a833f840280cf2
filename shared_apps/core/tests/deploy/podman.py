"""Building and running docker/Dockerfile without a Docker engine or a container registry, for
the image test (``bin/test-image``): Debian's podman (buildah inside) on vfs storage, chroot
isolation for the build, runc and the host network for the containers.

The base image (the Dockerfile's ``PYTHON_IMAGE``) is made here: ``mmdebstrap`` of Debian
bookworm with python3 (3.11), venv, pip and this machine's CA certificates, imported with
``podman import``. The host's pip settings that reach a package index (index URLs, trusted
hosts, proxy, timeout) go into the build as the ``pip.conf`` build secret, never into a layer.

Everything is cached under ``$IMAGE_TEST_CACHE`` (default ``var/image-test/``, gitignored): the
base tarball, podman's storage (so the build's layers are reused) and the last results.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .support import ROOT

CACHE = Path(os.environ.get("IMAGE_TEST_CACHE") or ROOT / "var" / "image-test").resolve()
IMAGE = "localhost/chat-ai:image-test"
BUILDER_IMAGE = "localhost/chat-ai:image-test-builder"
BASE_REPOSITORY = "localhost/chat-ai-image-test-base"
# The official image is python:3.11-slim-bookworm; Debian bookworm's python3 is 3.11 too.
# ca-certificates, netbase and tzdata are what the official image adds to debian:bookworm-slim
# (without tzdata Django cannot load its UTC zone: requirements/ pin no `tzdata` wheel);
# python-is-python3 gives the `python` the Dockerfile calls; passwd its groupadd/useradd.
BASE_PACKAGES = (
    "ca-certificates",
    "netbase",
    "tzdata",
    "passwd",
    "python3",
    "python3-venv",
    "python3-pip",
    "python-is-python3",
)
# The files whose contents make the base: this machine's CA certificates.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
CONTAINER_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def missing_tools() -> list[str]:
    return [tool for tool in ("podman", "buildah", "mmdebstrap", "runc") if shutil.which(tool) is None]


def podman_base() -> list[str]:
    """podman with this cache's own storage: vfs (no overlay or fuse needed), cgroupfs and a
    file event log (no systemd)."""
    return [
        "podman",
        "--root",
        str(CACHE / "storage"),
        "--runroot",
        str(CACHE / "run"),
        "--tmpdir",
        str(CACHE / "tmp"),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
    ]


def podman(*args: str, timeout: float = 600, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(  # noqa: S603 - fixed podman command lines
        [*podman_base(), *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result


def _base_key() -> str:
    digest = hashlib.sha256()
    digest.update(repr(("bookworm", BASE_PACKAGES, 1)).encode())
    for path in [HOST_CA_BUNDLE, *sorted(HOST_CA_DIR.glob("**/*.crt"))]:
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def base_image(log: Path) -> tuple[str, float]:
    """The base image's name, and the seconds spent making it (0 when cached)."""
    key = _base_key()
    name = f"{BASE_REPOSITORY}:{key}"
    if podman("image", "exists", name, check=False).returncode == 0:
        return name, 0.0
    started = time.monotonic()
    tarball = CACHE / f"base-bookworm-{key}.tar"
    if not tarball.is_file():
        partial = tarball.with_suffix(".partial")
        hooks = []
        if HOST_CA_DIR.is_dir():
            hooks.append(f"copy-in {HOST_CA_DIR} /usr/local/share")
        hooks += [
            'chroot "$1" update-ca-certificates',
            # The host's own bundle last: whatever this machine trusts, pip in the build trusts.
            f"upload {HOST_CA_BUNDLE} {CONTAINER_CA_BUNDLE}",
            'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
        ]
        command = [
            "mmdebstrap",
            "--variant=apt",
            "--format=tar",
            '--aptopt=APT::Install-Recommends "false"',
            f"--include={','.join(BASE_PACKAGES)}",
            *[f"--customize-hook={hook}" for hook in hooks],
            "bookworm",
            str(partial),
        ]
        with log.open("a") as out:
            subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=1800)  # noqa: S603
        partial.rename(tarball)
    podman(
        "import",
        "--change",
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        'CMD ["python3"]',
        str(tarball),
        name,
        timeout=900,
    )
    for old in CACHE.glob("base-bookworm-*.tar"):  # one tarball kept
        if old != tarball:
            old.unlink()
    return name, time.monotonic() - started


# --- the host's pip settings, for the build ---------------------------------------------------
_PIP_KEYS = {
    "index-url": "index-url",
    "extra-index-url": "extra-index-url",
    "trusted-host": "trusted-host",
    "proxy": "proxy",
    "timeout": "timeout",
    "default-timeout": "timeout",
    "retries": "retries",
    "cert": "cert",
}


def host_pip_settings() -> dict[str, str]:
    """What this machine's pip would use to reach an index (``pip config list``: the config
    files and the PIP_* variables), keeping only what means something inside the build: index
    URLs over the network (a ``file://`` index or ``find-links`` directory is not there), trusted
    hosts, proxy, timeout, retries; ``cert`` points at the image's bundle, which holds this
    machine's certificates."""
    listed = subprocess.run(  # noqa: S603
        [os.environ.get("IMAGE_TEST_PIP", str(Path(sys.executable))), "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        scoped, _, raw = line.partition("=")
        section, _, key = scoped.rpartition(".")
        if section not in (":env:", "global", "download", "wheel", "install") or key not in _PIP_KEYS:
            continue
        value = raw.strip().strip("'\"")
        if key.endswith("index-url"):
            value = " ".join(url for url in value.split() if url.startswith(("http://", "https://")))
            if not value:
                continue
        if key == "cert":
            value = CONTAINER_CA_BUNDLE
        settings[_PIP_KEYS[key]] = value  # later lines (the environment) win, as in pip
    return settings


def pip_conf_text(settings: dict[str, str]) -> str:
    lines = ["[global]"] + [f"{key} = {value}" for key, value in sorted(settings.items())]
    return "\n".join(lines) + "\n"


@dataclass
class BuildResult:
    image: str
    base: str
    base_seconds: float
    build_seconds: float
    size_bytes: int
    layers: int
    reused: bool = False  # the inputs had not changed since the last build: no build this run


# What the Dockerfile reads from the build context (tests and caches never reach the image).
CONTEXT_SOURCES = (
    ".dockerignore",
    "docker",
    "requirements",
    "manage_auth.py",
    "manage_chat.py",
    "protos",
    "shared_apps",
    "auth_site",
    "chat_site",
)


def inputs_digest(base: str) -> str:
    """The base image and every file the build can copy: unchanged, the last image is this one."""
    digest = hashlib.sha256(podman("image", "inspect", "--format", "{{.Id}}", base).stdout.strip().encode())
    for source in CONTEXT_SOURCES:
        path = ROOT / source
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            relative = file.relative_to(ROOT)
            if "__pycache__" in relative.parts or "tests" in relative.parts or file.suffix == ".pyc":
                continue
            digest.update(str(relative).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _image_id(name: str) -> str | None:
    found = podman("image", "inspect", "--format", "{{.Id}}", name, check=False)
    return found.stdout.strip() if found.returncode == 0 else None


def _result(base: str, base_seconds: float, build_seconds: float, reused: bool) -> BuildResult:
    inspected = json.loads(podman("image", "inspect", IMAGE).stdout)[0]
    return BuildResult(
        IMAGE, base, base_seconds, build_seconds, int(inspected["Size"]), len(inspected["RootFS"]["Layers"]), reused
    )


def build_image(log: Path) -> BuildResult:
    """docker/Dockerfile built with podman from the local base. On vfs even a build whose every
    step is cached copies and deletes whole root filesystems (minutes), so when neither the base
    nor any file the build reads changed since the last build (``built.json``), that image is
    used as it is; ``IMAGE_TEST_REBUILD=1`` builds anyway."""
    for directory in ("storage", "run", "tmp"):
        (CACHE / directory).mkdir(parents=True, exist_ok=True)
    base, base_seconds = base_image(log)
    inputs = inputs_digest(base)
    record_path = CACHE / "built.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    if (
        os.environ.get("IMAGE_TEST_REBUILD", "") in ("", "0")
        and record.get("inputs") == inputs
        and record.get("image_id") == _image_id(IMAGE)
    ):
        return _result(base, base_seconds, record["build_seconds"], reused=True)
    secret = CACHE / "tmp" / "pip.conf"
    secret.write_text(pip_conf_text(host_pip_settings()))
    secret.chmod(0o600)
    proxies = [arg for name in PROXY_VARIABLES if os.environ.get(name) for arg in ("--build-arg", name)]
    common = [
        *podman_base(),
        "build",
        "--isolation",
        "chroot",
        "--network",
        "host",
        "--pull=never",
        "--layers",
        "--format",
        "docker",  # keeps the HEALTHCHECK, as docker build does (OCI has no such field)
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        *proxies,  # Docker's predefined proxy arguments, their values from this environment
        "--secret",
        f"id=pip.conf,src={secret}",
        "--file",
        str(ROOT / "docker" / "Dockerfile"),
    ]
    started = time.monotonic()
    offset = log.stat().st_size if log.exists() else 0
    try:
        with log.open("a") as out:
            result = subprocess.run(  # noqa: S603
                [*common, "--tag", IMAGE, str(ROOT)], stdout=out, stderr=subprocess.STDOUT, timeout=3600
            )
    finally:
        secret.unlink(missing_ok=True)
    build_seconds = time.monotonic() - started
    if result.returncode != 0:
        raise AssertionError(f"podman build exited {result.returncode}; see {log}:\n{log.read_text()[-4000:]}")
    # The builder stage's last image tagged, so that pruning old images keeps its cached wheels.
    output = log.read_text()[offset:]
    builder_part = output.split("[2/2] STEP 1/", 1)[0]
    ids = re.findall(r"^--> (?:Using cache )?([0-9a-f]{11,64})$", builder_part, re.MULTILINE)
    if ids:
        podman("tag", ids[-1], BUILDER_IMAGE, check=False)
    prune_dangling()
    record_path.write_text(json.dumps({"inputs": inputs, "image_id": _image_id(IMAGE), "build_seconds": build_seconds}))
    return _result(base, base_seconds, build_seconds, reused=False)


def prune_dangling() -> None:
    """Old builds' untagged images (each a full copy on vfs) go; the tagged ones and the build
    cache of the current one stay."""
    podman("image", "prune", "--force", check=False, timeout=600)
