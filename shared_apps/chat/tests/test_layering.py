"""The layering holds: the domain knows no transport, and only the REST transport knows its
DRF classes. Read from the source (no imports run), so it is fast and sees every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
APPS = ROOT / "shared_apps"
TRANSPORTS = ("rest_api", "grpc_api", "ws_api", "web")


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Absolute names of what the module imports (relative imports resolved against its package)."""
    package = list(path.relative_to(ROOT).with_suffix("").parts[:-1])
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_relative_imports_are_seen():
    path = APPS / "chat" / "grpc_api" / "servicers.py"
    names = _imports(path, "from ..rest_api import views\nfrom . import x\n")
    assert "shared_apps.chat.rest_api.views" in names and "shared_apps.chat.grpc_api.x" in names


def _modules(*, exclude_tests: bool = True):
    for path in sorted([*APPS.rglob("*.py"), *(ROOT / "chatctl").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]):
        parts = path.relative_to(ROOT).parts
        if "results" in parts or "site-packages" in parts:
            continue  # the bench's own output and the venvs it makes
        if exclude_tests and ("tests" in parts or "migrations" in parts):
            continue
        yield path, parts


def test_nothing_outside_rest_api_imports_from_it():
    # given every module of the project, tests included
    offenders = []
    for path, parts in _modules(exclude_tests=False):
        if "rest_api" in parts or path.name.startswith("urls"):
            continue  # the REST layer itself, and URL confs that mount it
        # when its imports are read
        bad = sorted(name for name in _imports(path) if ".rest_api" in name)
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {', '.join(bad)}")
    # then none reaches into a rest_api package
    assert offenders == []


@pytest.mark.parametrize("app", ["chat", "accounts"])
def test_the_domain_imports_no_transport(app):
    offenders = []
    for path in sorted((APPS / app).rglob("*.py")):
        parts = path.relative_to(APPS / app).parts
        if parts[0] in (*TRANSPORTS, "tests", "migrations", "admin.py", "urls.py"):
            continue
        bad = sorted(
            name
            for name in _imports(path)
            if any(f".{t}" in name for t in TRANSPORTS) or name.split(".")[0] in ("rest_framework", "grpc")
        )
        if bad:
            offenders.append(f"{path.relative_to(ROOT)}: {', '.join(bad)}")
    assert offenders == []
