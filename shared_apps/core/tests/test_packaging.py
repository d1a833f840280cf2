"""The project installs with ``pip install -e .`` (which gives the ``chatctl`` console script).

Offline and fast: setuptools reads pyproject.toml and runs its package discovery in a child process
started in the repository root, the step that ``pip install -e .`` failed at ("Multiple top-level
packages discovered in a flat-layout"). No build, no network, nothing written to the work tree.
"""

from __future__ import annotations

import functools
import importlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

DISCOVER = """
import json
from setuptools.dist import Distribution

dist = Distribution({"script_name": "setup.py", "script_args": []})
dist.parse_config_files()
dist.set_defaults()  # package discovery: raises PackageDiscoveryError on an ambiguous flat layout
print(json.dumps({
    "name": dist.get_name(),
    "packages": sorted(dist.packages),
    "entry_points": dist.entry_points,
    "package_data": dist.package_data,
}))
"""


@functools.cache
def discovered() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", DISCOVER], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def source_packages(*tops: str) -> set[str]:
    """Every directory under ``tops`` holding an ``__init__.py``, as a dotted name."""
    return {
        ".".join(init.parent.relative_to(ROOT).parts) for top in tops for init in (ROOT / top).glob("**/__init__.py")
    }


def test_pyproject_declares_a_build_backend():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    assert any(req.startswith("setuptools") for req in pyproject["build-system"]["requires"])


def test_package_discovery_finds_the_project_packages_and_leaves_out_tests_and_tools():
    # when
    found = discovered()
    packages = set(found["packages"])
    # then: every application package (migrations, gRPC servers, settings...), nothing from the tools
    tops = ("chatctl", "shared_apps", "auth_site", "chat_site", "protos")
    expected = {p for p in source_packages(*tops) if "tests" not in p.split(".")}
    assert expected <= packages, sorted(expected - packages)
    assert {"shared_apps.chat.migrations", "shared_apps.core.grpc_server", "auth_site.settings"} <= packages
    assert not {p for p in packages if p.split(".")[0] not in tops}, packages
    assert not {p for p in packages if "tests" in p.split(".")}, packages


def test_console_script_chatctl_points_at_an_importable_callable():
    found = discovered()
    scripts = dict(line.replace(" ", "").split("=", 1) for line in found["entry_points"]["console_scripts"])
    module, attribute = scripts["chatctl"].split(":")
    assert callable(getattr(importlib.import_module(module), attribute))


def test_package_data_covers_the_templates_static_files_and_protos():
    patterns = discovered()["package_data"][""]
    chat = ROOT / "shared_apps" / "chat"
    page = ("templates/chat/app.html", "static/chat/app.js", "static/chat/app.css")
    for data in (*page, "static/chat/vendor/markdown-it.umd.min.js", "static/chat/vendor/markdown-it.LICENSE"):
        assert any((chat / data) in chat.glob(pattern) for pattern in patterns), data
    assert any((ROOT / "protos" / "chat.proto") in (ROOT / "protos").glob(p) for p in patterns)
