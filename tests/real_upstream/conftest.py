"""One stack whose only upstream is the managed `llama-server` running the real SmolLM2 model,
for the tests of this package: the gateway builds the server (or finds it in the cache) and
starts it.

`make test` builds the server before pytest runs (`llm-gateway local-model build`), so the
stack starts in seconds; from an empty cache it waits for the build.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
import requests

from tests.support.stack import KEY, Stack, free_port, start_stack

MODEL = "smollm2"
EMBEDDING_MODEL = "minilm"
# Inputs per call to the embedding server: small, so a test's batch takes several calls.
EMBEDDING_BATCH = 4
# Minutes a first build may take on a slow machine (about 4-7 on 2 cores).
_BUILD_WAIT_SECONDS = 1800


@dataclass
class LocalStack:
    """The stack, and the llama-server behind it (reached directly only to check it)."""

    stack: Stack
    server_url: str
    database: str
    embedding_url: str = ""

    def server_metrics(self) -> dict[str, float]:
        """The server's own counters (`llamacpp:...`)."""
        text = requests.get(f"{self.server_url}/metrics", timeout=5).text
        found = {}
        for line in text.splitlines():
            match = re.match(r"^llamacpp:(\w+) ([0-9.e+-]+)$", line)
            if match:
                found[match.group(1)] = float(match.group(2))
        return found

    def slots(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = requests.get(f"{self.server_url}/slots", timeout=5).json()
        return answer

    def wait_idle(self, seconds: float = 10.0) -> bool:
        """Whether every slot is free within `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not any(slot["is_processing"] for slot in self.slots()):
                return True
            time.sleep(0.05)
        return False


def long_stream(stack: Stack, tokens: int) -> requests.Response:
    """Opens a REST stream that generates exactly `tokens` tokens (`ignore_eos`); use it as a
    context manager."""
    return requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json={
            "model": MODEL,
            "stream": True,
            "max_tokens": tokens,
            "ignore_eos": True,
            "messages": [{"role": "user", "content": "Write a very long story."}],
        },
        stream=True,
        timeout=60,
    )


def local_config(
    folder: Path, port: int, embedding_port: int | None = None, **server: Any
) -> dict[str, Any]:
    config = {
        "listen": {
            "rest": f"127.0.0.1:{free_port()}",
            "grpc": f"127.0.0.1:{free_port()}",
            "metrics": f"127.0.0.1:{free_port()}",
        },
        "providers": {
            "local": {
                "type": "local",
                "server": {
                    "port": port,
                    "slots": 4,
                    "context_size": 8192,
                    "threads": 2,
                    "log_file": str(folder / "llama-server.log"),
                    **server,
                },
            },
        },
        "models": {MODEL: {"provider": "local", "model": "smollm2-135m-instruct"}},
        "keys": [{"name": "tester", "key": KEY}],
        "storage": {
            "database": f"sqlite:///{folder / 'usage.db'}",
            "key_secret": "real-upstream-secret-0123",
            "usage_flush_seconds": 0.05,
        },
        "shutdown_grace_seconds": 10,
    }
    if embedding_port is not None:
        config["providers"]["local_embedding"] = {
            "type": "local",
            "embedding_batch_size": EMBEDDING_BATCH,
            "server": {
                "model": "all-minilm-l6-v2",
                "port": embedding_port,
                "slots": 2,
                "context_size": 2048,
                "threads": 2,
            },
        }
        config["models"][EMBEDDING_MODEL] = {
            "provider": "local_embedding",
            "model": "all-minilm-l6-v2",
            "operations": ["embeddings"],
        }
    return config


@pytest.fixture(scope="package")  # its server's memory is given back after this package
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("real-upstream")
    port, embedding_port = free_port(), free_port()
    config = local_config(folder, port, embedding_port)
    stack = start_stack(folder, config, wait_seconds=_BUILD_WAIT_SECONDS)
    yield LocalStack(
        stack,
        f"http://127.0.0.1:{port}",
        config["storage"]["database"],
        f"http://127.0.0.1:{embedding_port}",
    )
    stack.stop()


@pytest.fixture
def client(local: LocalStack) -> openai.OpenAI:
    """The official SDK, through Envoy."""
    return openai.OpenAI(
        base_url=f"{local.stack.rest_url}/v1", api_key=KEY, max_retries=0, timeout=60
    )
