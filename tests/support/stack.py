"""Starts the real stack (`llm-gateway up`: the gateway and Envoy from the wheel) on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import requests
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

KEY = "sk-test-key-0123456789"
OTHER_KEY = "sk-test-other-9876543210"
SCENARIOS = (
    "echo",
    "agent",
    "fail-midstream",
    "error-in-stream",
    "rate-limited",
    "server-error",
    "bad-request",
    "unauthorized",
    "slow",
    "paced",
    "unavailable",
    "garbage",
    "large",
    "leaky",
)


# Ports already handed out in this process: the kernel may offer a released port again at
# once, and one config asks for several before anything binds them (a gRPC port and an Envoy
# stats port once came out the same).
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


ANTHROPIC_SCENARIOS = (
    "echo",
    "agent",
    "overloaded",
    "rate-limited",
    "bad-request",
    "error-in-stream",
    "slow",
    "large",
)
GEMINI_SCENARIOS = (
    "echo",
    "agent",
    "safety-block",
    "rate-limited",
    "error-in-stream",
    "fail-midstream",
)


def stack_config(upstream_url: str, **overrides: Any) -> dict[str, Any]:
    """A gateway config whose models `gpt-<scenario>`, `claude-<scenario>` and
    `gemini-<scenario>` reach the scripted upstream's three wire formats."""
    models: dict[str, Any] = {f"gpt-{s}": {"provider": "scripted", "model": s} for s in SCENARIOS}
    models |= {f"claude-{s}": {"provider": "claude", "model": s} for s in ANTHROPIC_SCENARIOS}
    models |= {f"gemini-{s}": {"provider": "gemini", "model": s} for s in GEMINI_SCENARIOS}
    # Routing: a failing deployment beside a working one, and a fallback to another API.
    models["gpt-routed"] = {
        "deployments": [
            {"provider": "scripted", "model": "server-error", "name": "broken"},
            {"provider": "claude", "model": "echo", "name": "claude-east"},
        ]
    }
    models["gpt-falls-back"] = {
        "provider": "scripted",
        "model": "unavailable",
        "fallbacks": ["gemini-echo"],
    }
    models["org/model-with-slash"] = {
        "provider": "scripted",
        "model": "echo",
        "owned_by": "org",
        "created": 1700000000,
    }
    models["gpt-down"] = {"provider": "down", "model": "echo"}
    models["gpt-hang"] = {"provider": "impatient", "model": "hang"}
    models["gpt-native"] = {"provider": "native", "model": "echo"}
    # Embedding models: OpenAI's wire format (in batches of 3 inputs, `batched`) and Gemini's.
    models["text-embed"] = {
        "provider": "scripted",
        "model": "embed-8",
        "operations": ["embeddings"],
    }
    models["text-embed-batched"] = {
        "provider": "batched",
        "model": "embed-8",
        "operations": ["embeddings"],
    }
    models["gemini-embed"] = {
        "provider": "gemini",
        "model": "embed-8",
        "operations": ["embeddings"],
    }
    # Its own deployment down: the chat fallback is skipped, the embedding one serves.
    models["embed-falls-back"] = {
        "provider": "down",
        "model": "embed-8",
        "operations": ["embeddings"],
        "fallbacks": ["gpt-echo", "text-embed"],
    }
    # Moderation models of OpenAI's API, under its own names (its default included).
    for name in ("omni-moderation-latest", "text-moderation-latest"):
        models[name] = {"provider": "scripted", "model": name, "operations": ["moderations"]}
    # Image models of OpenAI's API, under its own names (its default, dall-e-2, included).
    for name in ("dall-e-2", "dall-e-3", "gpt-image-1"):
        models[name] = {"provider": "scripted", "model": name, "operations": ["images"]}
    models["house-images"] = {
        "provider": "scripted",
        "model": "gpt-image-1",
        "operations": ["images"],
    }
    for name in (
        "tts-1",
        "gpt-4o-mini-tts",
        "tts-broken",
        "whisper-1",
        "gpt-4o-transcribe",
        "transcribe-broken",
        "whisper-slow",
        "gpt-4o-transcribe-diarize",
    ):
        models[name] = {"provider": "scripted", "model": name, "operations": ["audio"]}
    models["claude-moderation"] = {
        "provider": "claude",
        "model": "echo",
        "operations": ["moderations"],
    }
    models["claude-audio"] = {"provider": "claude", "model": "echo", "operations": ["audio"]}
    # Its own deployment down: the chat fallback is skipped, the form is sent again to whisper-1.
    models["whisper-falls-back"] = {
        "provider": "down",
        "model": "whisper-1",
        "operations": ["audio"],
        "fallbacks": ["gpt-echo", "whisper-1"],
    }
    models["gemini-images"] = {
        "provider": "gemini",
        "model": "gemini-2.5-flash-image",
        "operations": ["images"],
    }
    config: dict[str, Any] = {
        "listen": {
            "rest": f"127.0.0.1:{free_port()}",
            "grpc": f"127.0.0.1:{free_port()}",
            "metrics": f"127.0.0.1:{free_port()}",
            "envoy_metrics": f"127.0.0.1:{free_port()}",
        },
        "providers": {
            "scripted": {
                "type": "openai",
                "base_url": upstream_url,
                "api_key": "sk-upstream-secret-1",
            },
            "down": {
                "type": "openai",
                "base_url": f"http://127.0.0.1:{free_port()}/v1",
                "connect_timeout": 2,
            },
            "impatient": {"type": "openai", "base_url": upstream_url, "read_timeout": 0.5},
            "batched": {"type": "openai", "base_url": upstream_url, "embedding_batch_size": 3},
            # The same upstream's own Responses API (`scripted_responses`).
            "native": {"type": "openai", "base_url": upstream_url, "responses_api": "native"},
            "claude": {
                "type": "anthropic",
                "base_url": upstream_url.replace("/v1", "/anthropic/v1"),
                "api_key": "sk-ant-upstream-secret",
                "default_max_tokens": 64,
            },
            "gemini": {
                "type": "gemini",
                "base_url": upstream_url.replace("/v1", "/gemini/v1beta"),
                "api_key": "gemini-upstream-secret",
            },
        },
        "models": models,
        "keys": [
            {"name": "tester", "key": KEY},
            {"name": "other", "key": OTHER_KEY, "models": ["gpt-echo", "org/*"]},
        ],
        "limits": {"max_body_bytes": 1024 * 1024},
        # Quick retries, no waiting for the scripted Retry-After, no cooldown: each scenario
        # model answers the same way every time.
        "routing": {
            "retries": 1,
            "backoff_seconds": 0.01,
            "max_retry_after_seconds": 1,
            "cooldown_seconds": 0,
        },
        "shutdown_grace_seconds": 5,
    }
    config.update(overrides)
    return config


@dataclass
class Stack:
    """A running `llm-gateway up` process."""

    process: subprocess.Popen[bytes]
    config: dict[str, Any]
    log_path: Path

    @property
    def rest_url(self) -> str:
        return f"http://{self.config['listen']['rest']}"

    @property
    def grpc_target(self) -> str:
        return str(self.config["listen"]["grpc"])

    @property
    def metrics_url(self) -> str:
        return f"http://{self.config['listen']['metrics']}/metrics"

    @property
    def envoy_metrics_url(self) -> str:
        return f"http://{self.config['listen']['envoy_metrics']}/stats/prometheus"

    @property
    def envoy_target(self) -> str:
        return str(self.config["listen"]["rest"])

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def run_once(
    folder: Path, config: dict[str, Any], command: str = "serve"
) -> subprocess.CompletedProcess[str]:
    """Runs `llm-gateway <command>` on a config that must make it fail at start; returns how
    it ended (its status and its output)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run(
        [sys.executable, "-m", "llm_gateway", command, "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def start_stack(
    folder: Path,
    config: dict[str, Any],
    command: str = "up",
    wait_seconds: float = 30,
    env: dict[str, str] | None = None,
) -> Stack:
    """Writes the config and starts the stack; returns once `/v1/models` answers."""
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "gateway.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = folder / "gateway.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_gateway", command, "--config", str(config_path)],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    stack = Stack(process, config, log_path)
    ready = _answers if command == "up" else _serving
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the stack exited:\n{log_path.read_text()}")
        if ready(stack):
            return stack
        time.sleep(0.1)
    stack.stop()
    raise RuntimeError(f"the stack did not start:\n{log_path.read_text()}")


def _serving(stack: Stack) -> bool:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


def _answers(stack: Stack) -> bool:
    try:
        response = requests.get(
            f"{stack.rest_url}/v1/models", headers={"authorization": f"Bearer {KEY}"}, timeout=1
        )
    except requests.RequestException:
        return False
    return response.status_code == 200
