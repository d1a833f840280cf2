"""Reading the rendered manifests: rendering an overlay with generated test secrets, walking
containers, and resolving each container's environment the way the kubelet does."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .support import K8S, ROOT, ed25519_pems

WORKLOAD_KINDS = ("Deployment", "Job")
# Where the processes read their environment: the settings and config helpers, the entry
# points (DJANGO_SETTINGS_MODULE) and the gunicorn configs (PORT, WEB_CONCURRENCY, GUNICORN_*).
ENV_READERS = (
    sorted(ROOT.glob("shared_apps/core/settings_*.py"))
    + [ROOT / "shared_apps/core/config.py"]
    + sorted(ROOT.glob("*_site/settings/*.py"))
    + [ROOT / "manage_auth.py", ROOT / "manage_chat.py", ROOT / "auth_site/wsgi.py", ROOT / "chat_site/asgi.py"]
    + sorted((ROOT / "docker").glob("gunicorn*.py"))
)
REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def env_names_read() -> set[str]:
    text = "\n".join(path.read_text() for path in ENV_READERS if path.exists())
    return set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", text))


def write_test_secrets(secrets_dir: Path) -> None:
    """Real-looking secrets for every file the overlay's generators read (named by the
    committed *.example files), so the render and the settings check use working values."""
    private, public = ed25519_pems()
    contents = {
        "auth.env": (
            f"DJANGO_SECRET_KEY={secrets.token_urlsafe(64)}\n"
            "DATABASE_URL=postgres://auth:pw@postgresql:5432/auth\nREDIS_URL=redis://redis-master:6379/0\n"
            "EMAIL_URL=smtp+tls://mailer:pw@smtp.example.com:587\n"
        ),
        "chat.env": (
            f"DJANGO_SECRET_KEY={secrets.token_urlsafe(64)}\n"
            "DATABASE_URL=postgres://chat:pw@postgresql:5432/chat\nREDIS_URL=redis://redis-master:6379/1\n"
            "OPENAI_API_KEY=sk-test\n"
        ),
        "jwt-signing-key.pem": private,
        "jwt-public-keys.pem": public,
        "auth-service-token": secrets.token_urlsafe(32) + "\n",
    }
    examples = sorted(path.name.removesuffix(".example") for path in secrets_dir.glob("*.example"))
    assert examples == sorted(contents), f"the overlay's secret files changed: {examples}"
    for name, content in contents.items():
        (secrets_dir / name).write_text(content)


def render(kubectl: str, overlay: str, workdir: Path) -> list[dict[str, Any]]:
    copy = workdir / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("*.env", "*.pem"))
    write_test_secrets(copy / "overlays" / overlay / "secrets")
    result = subprocess.run(
        [kubectl, "kustomize", str(copy / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def containers(doc: dict[str, Any], *, init: bool = True) -> list[dict[str, Any]]:
    spec = pod_spec(doc)
    return [*(spec.get("initContainers", []) if init else []), *spec["containers"]]


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] in WORKLOAD_KINDS]


def by_kind_name(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def _source_data(docs, kind: str, name: str) -> dict[str, str]:
    import base64

    obj = by_kind_name(docs, kind, name)
    data = dict(obj.get("data") or {})
    if kind == "Secret":
        data = {k: base64.b64decode(v).decode() for k, v in data.items()}
    return {**data, **(obj.get("stringData") or {})}


def container_env(docs, container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env in
    order, each value's $(VAR) expanded from what is defined before it."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(_source_data(docs, "ConfigMap", source["configMapRef"]["name"]))
        else:
            env.update(_source_data(docs, "Secret", source["secretRef"]["name"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = REFERENCE.sub(lambda m: env.get(m.group(1), m.group(0)), item["value"])
        elif "fieldRef" in item.get("valueFrom", {}):
            env[item["name"]] = {"status.podIP": "10.1.2.3"}.get(item["valueFrom"]["fieldRef"]["fieldPath"], "x")
        else:
            ref = item["valueFrom"]
            if "configMapKeyRef" in ref:
                kind, key_ref = "ConfigMap", ref["configMapKeyRef"]
            else:
                kind, key_ref = "Secret", ref["secretKeyRef"]
            env[item["name"]] = _source_data(docs, kind, key_ref["name"])[key_ref["key"]]
    return env


def expansion_only_names(container: dict[str, Any]) -> set[str]:
    """Variables that exist only to be expanded into another one ($(PUBLIC_HOSTNAME), $(POD_IP))."""
    return {name for item in container.get("env", []) for name in REFERENCE.findall(item.get("value", ""))}
