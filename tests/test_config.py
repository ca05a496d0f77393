"""The configuration file: interpolation, defaults, and errors that name the bad entry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llm_gateway.cli import main
from llm_gateway.config import ConfigError, parse_config
from llm_gateway.sidecar import EnvoyProcess

VALID = """
providers:
  up: {type: openai, base_url: "${UP_URL:-http://127.0.0.1:8000/v1}", api_key: "${UP_KEY}"}
models:
  m: {provider: up, model: upstream-m}
keys:
  - {name: dev, key: "${GW_KEY}"}
"""


def test_interpolation_and_defaults() -> None:
    settings = parse_config(VALID, "t.yaml", {"UP_KEY": "k-up", "GW_KEY": "sk-secret-1"})
    assert settings.providers["up"].base_url == "http://127.0.0.1:8000/v1"
    assert settings.providers["up"].api_key is not None
    assert settings.providers["up"].api_key.get_secret_value() == "k-up"
    assert settings.listen.rest == "127.0.0.1:8080" and settings.listen.grpc == "127.0.0.1:50051"
    assert settings.unknown_fields == "pass"
    assert "sk-secret-1" not in repr(settings)  # secrets never print


def test_missing_variable_is_named() -> None:
    with pytest.raises(ConfigError, match=r"providers\.up\.api_key: .*UP_KEY is not set"):
        parse_config(VALID, "t.yaml", {"GW_KEY": "sk-secret-1"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("provider: up", "provider: nowhere"), r"models\.m\.provider: unknown provider 'nowhere'"),
        (("type: openai", "type: carrier-pigeon"), r"providers\.up\.type"),
        (
            ('base_url: "${UP_URL:-http://127.0.0.1:8000/v1}"', "base_url: ftp://x"),
            r"providers\.up\.base_url: .*http",
        ),
        (("models:", "modles: {}\nmodels:"), r"modles: Extra inputs are not permitted"),
        (('key: "${GW_KEY}"', "key: short"), r"keys\.0\.key: a key must have at least 8"),
        (
            ("type: openai,", "type: anthropic, responses_api: native,"),
            r"providers\.up: .*`native` is for an `openai` provider only",
        ),
    ],
)
def test_invalid_entries_are_named(change: tuple[str, str], message: str) -> None:
    env = {"UP_KEY": "k", "GW_KEY": "sk-secret-1"}
    with pytest.raises(ConfigError, match=message):
        parse_config(VALID.replace(*change), "t.yaml", env)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("listen: {metrics: '9464'}", r"listen\.metrics: .*HOST:PORT"),
        ("tracing: {enabled: true, otlp_endpoint: 'http://collector'}", r"tracing\.otlp_endpoint"),
        ("tracing: {sample_ratio: 1.5}", r"tracing\.sample_ratio"),
        ("tracing: {enabeld: true}", r"tracing\.enabeld: Extra inputs"),
        ("responses: {database: 'mysql://x'}", r"responses\.database: .*sqlite:///PATH"),
        ("responses: {retention_days: 0}", r"responses\.retention_days"),
    ],
)
def test_invalid_telemetry_entries_are_named(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(VALID + extra + "\n", "t.yaml", {"UP_KEY": "k", "GW_KEY": "sk-secret-1"})


def test_unset_optional_values_mean_off() -> None:
    settings = parse_config(
        VALID
        + "listen: {metrics: '', envoy_metrics: ''}\n"
        + "tracing: {enabled: 'false'}\n"
        + "storage: {database: 'sqlite:///x.db', key_secret: '0123456789abcdef', admin_key: '',"
        + " redis_url: ''}\n",
        "t.yaml",
        {"UP_KEY": "k", "GW_KEY": "sk-secret-1"},
    )
    assert settings.listen.metrics is None and settings.listen.envoy_metrics is None
    assert settings.tracing.enabled is False
    assert settings.storage is not None
    assert settings.storage.admin_key is None and settings.storage.redis_url is None


def test_bad_listen_address() -> None:
    with pytest.raises(ConfigError, match=r"listen\.grpc: .*HOST:PORT"):
        parse_config(
            VALID + "listen: {grpc: 'nowhere'}\n",
            "t.yaml",
            {"UP_KEY": "k", "GW_KEY": "sk-secret-1"},
        )


def test_cli_fails_at_start_naming_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace("provider: up", "provider: nowhere"))
    result = subprocess.run(
        [sys.executable, "-m", "llm_gateway", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"UP_KEY": "k", "GW_KEY": "sk-secret-1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    assert "models.m.provider: unknown provider 'nowhere'" in result.stderr


def test_shipped_config_loads(root: Path) -> None:
    settings = parse_config((root / "config" / "gateway.yaml").read_text(), "gateway.yaml", {})
    assert {"openai", "local", "anthropic", "gemini"} <= set(settings.providers)
    assert settings.models["gpt-4o-mini"].deployments[0].provider == "openai"
    smart = settings.models["smart"]
    assert [d.label for d in smart.deployments] == ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]
    assert smart.fallbacks == ["gemini-2.5-flash"]


ROUTED = """
providers:
  a: {type: openai, base_url: "http://127.0.0.1:8000/v1"}
  b: {type: anthropic, base_url: "https://api.anthropic.com/v1", api_key: k}
models:
  m:
    deployments:
      - {provider: a, model: x, weight: 2, first_byte_timeout: 5}
      - {provider: b, model: y, name: east, idle_timeout: 1, connect_timeout: 0.5}
    fallbacks: [n]
  n: {provider: b, model: z, weight: 4}
keys:
  - {name: dev, key: sk-secret-1}
"""


def test_deployments_fallbacks_and_the_short_form() -> None:
    settings = parse_config(ROUTED, "t.yaml", {})
    first, second = settings.models["m"].deployments
    assert (first.label, first.weight, first.first_byte_timeout) == ("a/x", 2, 5)
    assert (second.label, second.idle_timeout, second.connect_timeout) == ("east", 1, 0.5)
    assert settings.models["m"].fallbacks == ["n"]
    (only,) = settings.models["n"].deployments  # the short form is one deployment
    assert (only.provider, only.model, only.weight) == ("b", "z", 4)
    assert settings.providers["b"].anthropic_version == "2023-06-01"
    assert settings.routing.retries == 2 and settings.routing.cooldown_seconds == 30


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("provider: b, model: y", "provider: c, model: y"),
            r"models\.m\.deployments\[1\]: unknown provider 'c'",
        ),
        (("fallbacks: [n]", "fallbacks: [nope]"), r"models\.m\.fallbacks: 'nope' is not another"),
        (("fallbacks: [n]", "fallbacks: [m]"), r"models\.m\.fallbacks: 'm' is not another"),
        (("name: east, ", "name: a/x, "), r"two deployments share a name"),
        (("weight: 2", "weight: 0"), r"weight: Input should be greater than 0"),
        (
            ("n: {provider: b, model: z, weight: 4}", "n: {deployments: []}"),
            r"models\.n\.deployments: List should have at least 1 item",
        ),
    ],
)
def test_invalid_routing_entries_are_named(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(ROUTED.replace(*change), "t.yaml", {})


def test_envoy_config_command_renders_a_given_template(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(VALID.replace("${UP_KEY}", "k").replace("${GW_KEY}", "sk-secret-1"))
    template = tmp_path / "envoy.yaml"
    template.write_text(
        (root / "envoy" / "envoy.yaml")
        .read_text()
        .replace("stream_idle_timeout: 300s", "stream_idle_timeout: 42s")
    )
    assert main(["envoy-config", "--config", str(config), "--envoy-config", str(template)]) == 0
    rendered = capsys.readouterr().out
    assert "stream_idle_timeout: 42s" in rendered  # the given template, not the packaged one
    assert "port_value: 8080" in rendered and "descriptor.pb" in rendered


def test_a_template_without_the_stats_listener_renders_only_when_it_is_not_needed(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A customised envoy.yaml copied before the stats listener existed keeps working; asked
    for that listener, it is a config error naming what is missing."""
    template = tmp_path / "envoy.yaml"
    config = yaml.safe_load((root / "envoy" / "envoy.yaml").read_text())
    resources = config["static_resources"]
    resources["listeners"] = [x for x in resources["listeners"] if x["name"] != "envoy_metrics"]
    resources["clusters"] = [x for x in resources["clusters"] if x["name"] != "envoy_admin"]
    template.write_text(yaml.safe_dump(config))
    plain = tmp_path / "gateway.yaml"
    plain.write_text(VALID.replace("${UP_KEY}", "k").replace("${GW_KEY}", "sk-secret-1"))
    assert main(["envoy-config", "--config", str(plain), "--envoy-config", str(template)]) == 0
    assert "rest_and_grpc" in capsys.readouterr().out
    wants_stats = tmp_path / "stats.yaml"
    wants_stats.write_text(plain.read_text() + "listen: {envoy_metrics: '127.0.0.1:9902'}\n")
    assert (
        main(["envoy-config", "--config", str(wants_stats), "--envoy-config", str(template)]) == 2
    )
    assert "has no 'envoy_metrics'" in capsys.readouterr().err


def test_envoy_runs_with_the_given_worker_count(tmp_path: Path) -> None:
    settings = parse_config(VALID, "t.yaml", {"UP_KEY": "k", "GW_KEY": "sk-secret-1"})
    command = EnvoyProcess(settings, concurrency=3).command()
    assert command[command.index("--concurrency") + 1] == "3"
