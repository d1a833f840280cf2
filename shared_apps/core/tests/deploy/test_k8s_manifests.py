"""The Kubernetes manifests render, are valid Kubernetes objects, and agree with the code:
probe paths exist in the URLconfs, ports are the documented ones, commands name files and
modules that exist, every variable set is read by the settings, and the production settings
start with exactly the environment each workload gets."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from .manifests import (
    by_kind_name,
    container_env,
    containers,
    env_names_read,
    expansion_only_names,
    pod_spec,
    render,
    workloads,
)
from .support import OVERLAYS, PYTHON, ROOT, kubectl_path

KUBERNETES_VERSION = "1.37.0"
SERVICEMONITOR_SCHEMA = json.loads((Path(__file__).parent / "schemas/servicemonitor.json").read_text())
# The documented ports and which site each workload runs.
PORTS = {"auth-rest": 8081, "auth-grpc": 8080, "chat-asgi": 8083, "chat-grpc": 8082}
SITE = {"auth": "auth_site", "chat": "chat_site"}
REQUIRED_IN_PRODUCTION = {
    "auth": {
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "JWT_SIGNING_KEY",
        "AUTH_CORS_ALLOWED_ORIGINS",
        "AUTH_SERVICE_TOKEN",
        "PUBLIC_AUTH_URL",
        "EMAIL_URL",
    },
    "chat": {
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "CHAT_WS_ALLOWED_ORIGINS",
        "CHAT_AUTH_PUBLIC_URL",
        "AUTH_SERVICE_TOKEN",
        "JWT_VERIFYING_KEY",
        "AUTH_GRPC_TARGET",
    },
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, list[dict]]:
    kubectl = kubectl_path()
    if kubectl is None:
        reason = "kubectl is not installed (needed for `kubectl kustomize`); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI must render the manifests, never skip them
        pytest.skip(reason)
    return {overlay: render(kubectl, overlay, tmp_path_factory.mktemp(overlay)) for overlay in OVERLAYS}


def service_of(doc) -> str:
    return doc["metadata"]["labels"]["chat-ai/service"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_valid_against_the_kubernetes_schemas(rendered, overlay):
    kinds = set()
    for doc in rendered[overlay]:
        kinds.add(doc["kind"])
        if doc["apiVersion"] == "monitoring.coreos.com/v1":
            # A CRD: not in the Kubernetes schemas; checked against the committed strict subset.
            assert doc["kind"] == "ServiceMonitor"
            jsonschema.validate(doc, SERVICEMONITOR_SCHEMA)
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert {
        "Deployment",
        "Service",
        "Job",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
        "ServiceMonitor",
    } <= kinds


def unresolved_paths(site: str, paths: set[str]) -> list[str]:
    """Paths the site's URLconf does not resolve, asked of a process with that site's own
    test settings (one site's URLconf cannot be imported under the other's apps)."""
    code = (
        "import json, sys, django; django.setup(); from django.urls import Resolver404, resolve\n"
        "bad = []\n"
        "for path in json.loads(sys.argv[1]):\n"
        "    try: resolve(path)\n"
        "    except Resolver404: bad.append(path)\n"
        "print(json.dumps(bad))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": f"{site}.settings.test"}
    result = subprocess.run(
        [PYTHON, "-c", code, json.dumps(sorted(paths))], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_http_probe_and_scrape_paths_exist_in_the_sites_urlconfs(rendered, overlay):
    docs = rendered[overlay]
    monitor = by_kind_name(docs, "ServiceMonitor", "chat-ai")
    scraped = {e["path"] for e in monitor["spec"]["endpoints"]}
    assert scraped == {"/metrics"}
    paths: dict[str, set[str]] = {"auth_site": set(), "chat_site": set()}
    probes = 0
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        for container in containers(doc, init=False):
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "httpGet" in container[probe]:
                    paths[SITE[service_of(doc)]] |= {container[probe]["httpGet"]["path"], *scraped}
                    probes += 1
    assert probes == 6  # three probes on each of the two HTTP apps
    for site, site_paths in paths.items():
        assert site_paths >= {"/healthz", "/readyz", "/metrics"}
        assert unresolved_paths(site, site_paths) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ports_are_the_documented_ones_everywhere(rendered, overlay):
    docs = rendered[overlay]
    for name, port in PORTS.items():
        container = containers(by_kind_name(docs, "Deployment", name), init=False)[0]
        env = container_env(docs, container)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        if name.endswith("grpc"):
            assert ports == {"grpc": port, "metrics": int(env["GRPC_METRICS_PORT"])}
            assert env["GRPC_ADDRESS"] == f"0.0.0.0:{port}"
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert container[probe]["grpc"]["port"] == port
        else:
            assert ports == {"http": port}
            assert env["PORT"] == str(port)
        service = by_kind_name(docs, "Service", name)
        assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
            pname: (pport, pname) for pname, pport in ports.items()
        }
    assert (
        container_env(docs, containers(by_kind_name(docs, "Deployment", "chat-asgi"))[-1])["AUTH_GRPC_TARGET"]
        == f"auth-grpc:{PORTS['auth-grpc']}"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_commands_name_files_and_modules_that_exist(rendered, overlay):
    for doc in workloads(rendered[overlay]):
        for container in containers(doc):
            words = " ".join(container["command"] + container.get("args", [])).split()
            for word in words:
                if word.endswith(".py"):
                    assert (ROOT / word).is_file(), word
                if ":" in word and word.split(":")[0].endswith(("wsgi", "asgi")):
                    module, attr = word.split(":")
                    spec = importlib.util.find_spec(module)
                    assert spec is not None and spec.origin, word
                    assert f"{attr} = " in Path(spec.origin).read_text(), word
            assert any(
                w in words
                for w in ("manage_auth.py", "manage_chat.py", "docker/gunicorn.auth.py", "docker/gunicorn.chat.py")
            ), words


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_set_is_read_by_the_code(rendered, overlay):
    read = env_names_read()
    docs = rendered[overlay]
    for doc in workloads(docs):
        for container in containers(doc):
            unread = set(container_env(docs, container)) - read - expansion_only_names(container)
            assert not unread, f"{doc['metadata']['name']}/{container['name']} sets {sorted(unread)}, read nowhere"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_production_settings_start_with_each_workloads_environment(rendered, overlay):
    docs = rendered[overlay]
    runs = []
    for doc in workloads(docs):
        service = service_of(doc)
        for container in containers(doc):
            env = container_env(docs, container)
            missing = REQUIRED_IN_PRODUCTION[service] - set(env)
            assert not missing, f"{doc['metadata']['name']}/{container['name']} lacks {sorted(missing)}"
            assert env["DJANGO_SETTINGS_MODULE"] == f"{SITE[service]}.settings.production"
            runs.append((f"{doc['metadata']['name']}/{container['name']}", env))

    def settings_start(env: dict[str, str]) -> subprocess.CompletedProcess:
        code = (
            "from shared_apps.core.config import settings_or_exit; import os; "
            "settings_or_exit(os.environ['DJANGO_SETTINGS_MODULE'])"
        )
        return subprocess.run(
            [PYTHON, "-c", code],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(settings_start, [env for _, env in runs]))
    for (name, _), result in zip(runs, results, strict=True):
        assert result.returncode == 0, f"{name}: {result.stderr.strip()}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_chat_service_holds_only_public_keys(rendered, overlay):
    docs = rendered[overlay]
    for doc in workloads(docs):
        for container in containers(doc):
            env = container_env(docs, container)
            assert env["JWT_ALGORITHM"] in ("RS256", "EdDSA")
            if service_of(doc) == "chat":
                assert "JWT_SIGNING_KEY" not in env
                assert "PRIVATE KEY" not in "".join(env.values())


def test_production_runs_several_chat_replicas_sharing_redis(rendered):
    docs = rendered["production"]
    for name in ("chat-asgi", "chat-grpc"):
        assert by_kind_name(docs, "HorizontalPodAutoscaler", name)["spec"]["minReplicas"] > 1
    for overlay in OVERLAYS:
        for doc in workloads(rendered[overlay]):
            hpa = [
                h
                for h in rendered[overlay]
                if h["kind"] == "HorizontalPodAutoscaler"
                and h["spec"]["scaleTargetRef"]["name"] == doc["metadata"]["name"]
            ]
            if hpa and hpa[0]["spec"]["maxReplicas"] > 1:
                for container in containers(doc):
                    assert container_env(rendered[overlay], container)["REDIS_URL"].startswith("redis://")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_are_locked_down(rendered, overlay):
    for doc in workloads(rendered[overlay]):
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        tmp_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in containers(doc):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert {m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/tmp"} <= tmp_volumes
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"])
            assert "memory" in container["resources"]["limits"]
        if doc["kind"] == "Deployment":
            assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} == {
                "topology.kubernetes.io/zone",
                "kubernetes.io/hostname",
            }
            names = {(d["kind"], d["metadata"]["name"]) for d in rendered[overlay]}
            assert ("HorizontalPodAutoscaler", doc["metadata"]["name"]) in names
            assert ("PodDisruptionBudget", doc["metadata"]["name"]) in names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_chat_service_reaches_auth_grpc_and_only_the_platform_reaches_the_stores(rendered, overlay):
    docs = rendered[overlay]
    policy = by_kind_name(docs, "NetworkPolicy", "auth-grpc")
    grpc_rules = [r for r in policy["spec"]["ingress"] if {"port": 8080, "protocol": "TCP"} in r["ports"]]
    assert len(grpc_rules) == 1
    (peer,) = grpc_rules[0]["from"]
    assert set(peer) == {"podSelector"}
    (expression,) = peer["podSelector"]["matchExpressions"]
    assert expression["values"] == ["chat-asgi", "chat-grpc"]
    for store, port in (("postgresql", 5432), ("redis", 6379)):
        rules = by_kind_name(docs, "NetworkPolicy", store)["spec"]["ingress"]
        assert all(set(p) == {"podSelector"} for r in rules for p in r["from"])
        assert [r["ports"] for r in rules] == [[{"port": port, "protocol": "TCP"}]]
    deny = by_kind_name(docs, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingresses_carry_websockets_and_grpc(rendered, overlay):
    docs = rendered[overlay]
    http = by_kind_name(docs, "Ingress", "chat-ai-http")
    assert int(http["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    paths = {(rule["host"].split(".")[0], p["path"]) for rule in http["spec"]["rules"] for p in rule["http"]["paths"]}
    assert ("chat", "/ws/") in paths and ("auth", "/.well-known/") in paths
    # the web page, and each site's static files (the admin's CSS, the page's script)
    assert {("chat", "/app/"), ("chat", "/static/"), ("auth", "/static/")} <= paths
    assert not any(p.startswith(("/metrics", "/healthz", "/readyz")) for _, p in paths)
    grpc_ingress = by_kind_name(docs, "Ingress", "chat-ai-grpc")
    assert grpc_ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert grpc_ingress["spec"]["tls"]
