"""The gateway's care of its llama-server: restarted when it dies, stopped only after the
gateway's own streams have ended, and serving the shipped config when no key is set."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import openai
import psutil
import pytest
import requests
import yaml

from llm_gateway.local.cache import CACHE_VARIABLE
from tests.real_upstream.conftest import MODEL, local_config, long_stream
from tests.support.stack import KEY, Stack, free_port, start_stack

pytestmark = pytest.mark.real_upstream


def _server_process(stack: Stack) -> psutil.Process:
    found = [
        child
        for child in psutil.Process(stack.process.pid).children(recursive=True)
        if child.name() == "llama-server"
    ]
    assert len(found) == 1, found
    return found[0]


def _chat(stack: Stack, **body: object) -> requests.Response:
    return requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], **body},
        timeout=60,
    )


def _log_once_it_says(stack: Stack, words: str, seconds: float = 30.0) -> str:
    """The gateway's log once it has `words`: a restarted server can answer a request a
    moment before the supervisor's health poll has seen it and logged it back (30 s: under
    the whole suite's load, 10 s was twice not enough)."""
    deadline = time.monotonic() + seconds
    while words not in (log := stack.log_path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert words in log
    return log


def _killed_and_replaced(stack: Stack, server: psutil.Process) -> psutil.Process:
    """Kills the server; returns its replacement once a request is served again."""
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    deadline = time.monotonic() + 30
    answer = None
    while time.monotonic() < deadline:
        answer = _chat(stack, max_tokens=5)
        if answer.status_code == 200:
            break
        time.sleep(0.2)
    assert answer is not None and answer.status_code == 200, answer.text if answer else None
    replacement = _server_process(stack)
    assert replacement.pid != server.pid
    return replacement


def test_a_dead_server_is_restarted_and_a_drained_gateway_stops_it_last(tmp_path: Path) -> None:
    config = local_config(tmp_path, free_port())
    # The drain below must outlast a 200-token stream however loaded the machine is (on a
    # busy machine the model makes well under its 80 tokens/s): what is tested is that the
    # stream ends whole and the server stops after it, not how fast it generates.
    config["shutdown_grace_seconds"] = 120
    stack = start_stack(tmp_path, config, wait_seconds=1800)
    try:
        first = _server_process(stack)
        second = _killed_and_replaced(stack, first)
        log = _log_once_it_says(stack, "is back (restart 1)")
        assert "exited with status -9" in log
        # Its own lines are kept in its log file, both runs of it; its last ones, tagged, in
        # the gateway's log when it died.
        assert (tmp_path / "llama-server.log").read_text().count("model loaded") == 2
        assert "its last lines:" in log
        # Dying again soon after: the wait before the next restart has doubled.
        second = _killed_and_replaced(stack, second)
        log = _log_once_it_says(stack, "is back (restart 2)")
        assert "in 0.5 s" in log and "in 1.0 s" in log

        # Drain: a stream running at SIGTERM ends whole; the server stops after it.
        with long_stream(stack, 200) as response:
            lines = response.iter_lines()
            next(lines)
            os.kill(stack.process.pid, signal.SIGTERM)
            rest = [line for line in lines if line]
        assert rest[-1] == b"data: [DONE]" and len(rest) > 100
        assert b'"error"' not in b"".join(rest)  # whole, not ended by the grace period
        assert stack.process.wait(120) == 0
        assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE
    finally:
        stack.stop()


def test_the_shipped_config_without_keys_serves_the_local_model(root: Path, tmp_path: Path) -> None:
    """`make run` on a machine with no provider key: the README's examples get real text."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.endswith("_API_KEY")
        and (not name.startswith("LLM_GATEWAY_") or name == CACHE_VARIABLE)
    }
    env["LLM_GATEWAY_API_KEY"] = KEY  # the callers' key, as the README's table says
    config = yaml.safe_load((root / "config" / "gateway.yaml").read_text())
    # Only the addresses change (two stacks may share this machine), as LLM_GATEWAY_* would.
    config["listen"] = {
        name: f"127.0.0.1:{free_port()}" for name in ("rest", "grpc", "metrics", "envoy_metrics")
    }
    stack = start_stack(tmp_path, config, wait_seconds=1800, env=env)
    try:
        # The README's first curl, and its SDK example (streaming).
        answer = requests.post(
            f"{stack.rest_url}/v1/chat/completions",
            headers={"authorization": f"Bearer {KEY}"},
            json={
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "Good evening"}],
            },
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        # Sampled text (no seed): a one-word answer ("Amina.") is text too.
        assert answer.json()["choices"][0]["message"]["content"].strip()
        assert answer.json()["usage"]["completion_tokens"] > 0
        assert answer.headers["x-llm-gateway-deployment"] == "local/smollm2-135m-instruct"
        client = openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=KEY)
        text = "".join(
            chunk.choices[0].delta.content or "" if chunk.choices else ""
            for chunk in client.chat.completions.create(
                model="gpt-4o-mini",
                stream=True,
                max_tokens=30,
                messages=[{"role": "user", "content": "Say hello"}],
            )
        )
        assert text.strip()
        log = stack.log_path.read_text()
        assert "model gpt-4o-mini: local/smollm2-135m-instruct (offline_default" in log
        assert "model local: local/smollm2-135m-instruct" in log
        assert "provider 'local': llama-server smollm2-135m-instruct on 127.0.0.1:" in log
    finally:
        stack.stop()
