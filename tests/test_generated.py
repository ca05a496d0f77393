"""Generated files match their sources, and the Envoy config is valid for Envoy itself."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import yaml

from llm_gateway.config import parse_config
from llm_gateway.sidecar.envoy import envoy_binary, render_envoy_config

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "service" / "llm_gateway"


def test_committed_stubs_descriptor_and_envoy_config_match_sources(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate.py"), "--out", str(tmp_path)], check=True
    )
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(generated) > 10
    drifted = [
        str(p)
        for p in generated
        if not filecmp.cmp(tmp_path / p, ROOT / "service" / p, shallow=False)
    ]
    assert drifted == [], "run `make generate` and commit the result"
    committed = {p.relative_to(ROOT / "service") for p in (PACKAGE / "v1").glob("*_pb2*")}
    assert committed == {p for p in generated if p.parts[1] == "v1"}


def test_rendered_envoy_config_validates(tmp_path: Path) -> None:
    settings = parse_config(
        "providers: {p: {type: openai, base_url: 'http://127.0.0.1:9/v1'}}\n"
        "models: {m: {provider: p, model: m}}\nkeys: [{name: k, key: 'sk-12345678'}]\n"
        "listen: {rest: '0.0.0.0:18080', grpc: '0.0.0.0:15051'}\n"
        "limits: {max_body_bytes: 2097152, max_header_kb: 32}\n",
        "inline",
    )
    config = render_envoy_config(settings)
    # Envoy's default circuit breakers would fail the 1,025th concurrent stream.
    (gateway,) = [c for c in config["static_resources"]["clusters"] if c["name"] == "gateway"]
    (limits,) = gateway["circuit_breakers"]["thresholds"]
    assert min(limits["max_requests"], limits["max_pending_requests"]) >= 10_000
    path = _valid_for_envoy(config, tmp_path)
    text = path.read_text()
    assert "port_value: 18080" in text and "max_request_body_size: 2097152" in text
    assert "max_request_headers_kb: 32" in text
    # The gateway listens on all interfaces; Envoy dials it on loopback.
    assert "address: 127.0.0.1\n" in text and "port_value: 15051" in text
    # Without `listen.envoy_metrics` or tracing: neither the stats listener nor a collector.
    names = [item["name"] for item in config["static_resources"]["listeners"]]
    assert names == ["rest_and_grpc"]
    assert (
        "tracing"
        not in config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0][
            "typed_config"
        ]
    )
    assert "otlp_collector" not in text and "envoy_admin" not in text


def _valid_for_envoy(config: dict[str, object], folder: Path) -> Path:
    path = folder / "envoy.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return path


def test_rendered_envoy_config_with_stats_listener_and_tracing_validates(tmp_path: Path) -> None:
    settings = parse_config(
        "providers: {p: {type: openai, base_url: 'http://127.0.0.1:9/v1'}}\n"
        "models: {m: {provider: p, model: m}}\nkeys: [{name: k, key: 'sk-12345678'}]\n"
        "listen: {envoy_admin: '0.0.0.0:19901', envoy_metrics: '0.0.0.0:19902'}\n"
        "tracing: {enabled: true, otlp_endpoint: 'collector.example:4317', sample_ratio: 0.25,"
        " service_name: edge}\n",
        "inline",
    )
    config = render_envoy_config(settings)
    _valid_for_envoy(config, tmp_path)
    resources = config["static_resources"]
    (stats,) = [item for item in resources["listeners"] if item["name"] == "envoy_metrics"]
    assert stats["address"]["socket_address"]["port_value"] == 19902
    clusters = {c["name"]: c for c in resources["clusters"]}
    admin = clusters["envoy_admin"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    # The admin interface listens on all interfaces; the stats listener dials it on loopback.
    assert admin["endpoint"]["address"]["socket_address"] == {
        "address": "127.0.0.1",
        "port_value": 19901,
    }
    collector = clusters["otlp_collector"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    assert collector["endpoint"]["address"]["socket_address"] == {
        "address": "collector.example",
        "port_value": 4317,
    }
    manager = resources["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    assert manager["tracing"]["random_sampling"] == {"value": 25.0}
    assert manager["tracing"]["provider"]["typed_config"]["service_name"] == "edge-envoy"
