"""The Kubernetes manifests: every overlay renders with `kubectl kustomize`, every built-in
resource passes the Kubernetes schemas offline (strict: no unknown fields), and the pieces agree
with each other and with the gateway: the config in the ConfigMap loads, probes and ports match
what the processes listen on, the grace period covers the drain. The Dockerfile is linted."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from llm_gateway.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = ("dev", "prod", "istio", "local-model")
KUBERNETES = "1.32.0"
Manifest = dict[str, Any]


def render(overlay: str) -> list[Manifest]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: `make test` installs it (apt-get install kubectl)"
    output = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Manifest]]:
    return request.param, render(request.param)


def only(docs: list[Manifest], kind: str) -> Manifest:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def container(deployment: Manifest, name: str) -> Manifest:
    (found,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name
    ]
    return found


def gateway_config(docs: list[Manifest], deployment: Manifest) -> Any:
    """The ConfigMap's gateway config, loaded as the gateway container would load it."""
    text = only(docs, "ConfigMap")["data"]["gateway.yaml"]
    env = {e["name"]: "x" * 20 for e in container(deployment, "gateway")["env"]}
    env.pop("LLM_GATEWAY_DATABASE", None)
    env.pop("LLM_GATEWAY_REDIS_URL", None)
    env["LLM_GATEWAY_TRACING"] = "true"
    return parse_config(text, "gateway.yaml", env)


def test_every_builtin_resource_passes_the_kubernetes_schemas(
    rendered: tuple[str, list[Manifest]],
) -> None:
    _, docs = rendered
    builtin = [d for d in docs if ".istio.io/" not in d["apiVersion"]]
    kinds = {d["kind"] for d in builtin}
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler"} <= kinds
    assert {"PodDisruptionBudget", "ServiceAccount", "Namespace"} <= kinds
    for doc in builtin:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_the_validator_refuses_a_misspelt_field() -> None:
    deployment = copy.deepcopy(only(render("dev"), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_the_pod_runs_the_gateway_and_its_sidecar_safely(
    rendered: tuple[str, list[Manifest]],
) -> None:
    _, docs = rendered
    deployment = only(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["gateway", "envoy"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    for each in pod["containers"]:
        security = each["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert {"cpu", "memory"} <= set(each["resources"]["requests"])
        assert {"cpu", "memory"} <= set(each["resources"]["limits"])
        assert {m["mountPath"] for m in each["volumeMounts"]} >= {"/etc/llm-gateway", "/tmp"}
        assert each["args"][0] == ("serve" if each["name"] == "gateway" else "sidecar")
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_probes_and_ports_match_what_the_gateway_listens_on(
    rendered: tuple[str, list[Manifest]],
) -> None:
    _, docs = rendered
    deployment = only(docs, "Deployment")
    settings = gateway_config(docs, deployment)
    port = {
        name: int(getattr(settings.listen, name).rpartition(":")[2])
        for name in ("rest", "grpc", "metrics", "envoy_metrics")
    }
    gateway, envoy = container(deployment, "gateway"), container(deployment, "envoy")
    assert {p["name"]: p["containerPort"] for p in gateway["ports"]} == {
        "grpc": port["grpc"],
        "metrics": port["metrics"],
    }
    assert {p["name"]: p["containerPort"] for p in envoy["ports"]} == {
        "http": port["rest"],
        "envoy-metrics": port["envoy_metrics"],
    }
    # Native gRPC probes on the standard health service: the gateway's own, and through Envoy.
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert gateway[probe]["grpc"] == {"port": port["grpc"]}
    assert envoy["readinessProbe"]["grpc"] == {"port": port["rest"]}
    assert envoy["livenessProbe"]["httpGet"]["path"] == "/ready"
    assert settings.listen.gateway_upstream == f"127.0.0.1:{port['grpc']}"

    service = only(docs, "Service")
    protocols = {p["name"]: p.get("appProtocol") for p in service["spec"]["ports"]}
    assert protocols["grpc"] == "grpc" and protocols["http"] == "http"
    targets = {p["targetPort"] for p in service["spec"]["ports"]}
    assert targets <= {p["name"] for c in (gateway, envoy) for p in c["ports"]}


def test_grace_period_covers_the_drain(rendered: tuple[str, list[Manifest]]) -> None:
    overlay, docs = rendered
    deployment = only(docs, "Deployment")
    settings = gateway_config(docs, deployment)
    pod = deployment["spec"]["template"]["spec"]
    # The gateway exits by the grace, the sidecar a second later: the kubelet must not kill
    # either first.
    assert pod["terminationGracePeriodSeconds"] >= settings.shutdown_grace_seconds + 2
    if overlay == "istio":
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        proxy = yaml.safe_load(annotations["proxy.istio.io/config"])
        drain = float(proxy["terminationDrainDuration"].removesuffix("s"))
        assert settings.shutdown_grace_seconds + 1 <= drain < pod["terminationGracePeriodSeconds"]


def test_references_between_resources_resolve(rendered: tuple[str, list[Manifest]]) -> None:
    overlay, docs = rendered
    deployment = only(docs, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        spec = only(docs, kind)["spec"]
        selector = spec["selector"].get("matchLabels", spec["selector"])
        assert selector and selector.items() <= labels.items()
    hpa = only(docs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["minReplicas"] >= 1 and hpa["maxReplicas"] >= hpa["minReplicas"]
    pod = deployment["spec"]["template"]["spec"]
    config_map = only(docs, "ConfigMap")["metadata"]["name"]
    assert {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v} == {config_map}
    assert pod["serviceAccountName"] == only(docs, "ServiceAccount")["metadata"]["name"]
    secret_refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in pod["containers"]
        for e in c["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    generated = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    if overlay in (
        "dev",
        "local-model",
    ):  # its secrets are generated, under a hashed name the pod must use
        assert any(name.startswith("llm-gateway-secrets-") for name in secret_refs)
        assert secret_refs & generated
    else:  # created by the operator beforehand, never committed
        assert not generated
        assert secret_refs == {"llm-gateway-secrets", "llm-gateway-provider-keys"}
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {only(docs, "Namespace")["metadata"]["name"]}


def test_prod_requires_shared_storage_and_traces() -> None:
    deployment = only(render("prod"), "Deployment")
    env = {e["name"]: e for e in container(deployment, "gateway")["env"]}
    for name in ("LLM_GATEWAY_DATABASE", "LLM_GATEWAY_REDIS_URL"):
        assert env[name]["valueFrom"]["secretKeyRef"]["optional"] is False
    assert env["LLM_GATEWAY_TRACING"]["value"] == "true"
    sidecar_env = {e["name"]: e for e in container(deployment, "envoy")["env"]}
    assert sidecar_env["LLM_GATEWAY_TRACING"]["value"] == "true"


def test_istio_variant_secures_and_balances_the_service() -> None:
    docs = render("istio")
    namespace = only(docs, "Namespace")
    assert namespace["metadata"]["labels"]["istio-injection"] == "enabled"
    service = only(docs, "Service")
    labels = only(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    peer = only(docs, "PeerAuthentication")
    assert peer["apiVersion"] == "security.istio.io/v1"
    assert peer["spec"]["mtls"]["mode"] == "STRICT"
    assert peer["spec"]["selector"]["matchLabels"].items() <= labels.items()
    metrics_ports = {str(p["port"]) for p in service["spec"]["ports"] if "metrics" in p["name"]}
    assert set(peer["spec"]["portLevelMtls"]) == metrics_ports
    rule = only(docs, "DestinationRule")
    assert rule["apiVersion"] == "networking.istio.io/v1"
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    assert rule["spec"]["host"] == host
    assert rule["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL"


def test_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "Dockerfile").read_text()
    # A build stage, the local model's build, and a small runtime stage.
    assert text.count("\nFROM ") == 3
    assert "llm-gateway local-model build" in text and "LLM_GATEWAY_CACHE_DIR" in text
    assert "scripts/generate.py" in text  # stubs and descriptor made in the build
    assert "\nUSER 10001" in text
