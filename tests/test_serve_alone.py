"""`llm-gateway serve` runs the gateway alone: gRPC only, no Envoy, and stops on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from llm_gateway.v1 import chat_pb2
from tests.support.grpc_client import METADATA, stub
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import stack_config, start_stack


def test_serve_alone(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> None:
    stack = start_stack(
        Path(tmp_path_factory.mktemp("serve")), stack_config(upstream.base_url), command="serve"
    )
    try:
        channel, client = stub(stack.grpc_target)
        with channel:
            answer = client.CreateChatCompletion(
                chat_pb2.ChatCompletionRequest(
                    model="gpt-echo", messages=[chat_pb2.ChatMessage(role="user", text="alone")]
                ),
                metadata=METADATA,
                timeout=10,
            )
        assert answer.choices[0].message.content == "alone"
        with pytest.raises(requests.ConnectionError):  # no Envoy: nothing on the REST port
            requests.get(f"{stack.rest_url}/v1/models", timeout=2)
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(10) == 0
    finally:
        stack.stop()


def test_sidecar_exits_with_envoys_failure(tmp_path: Path) -> None:
    """When Envoy dies on its own (here: its port is taken), `llm-gateway sidecar` exits with
    Envoy's status, so that the container is restarted rather than left up without Envoy."""
    config = stack_config("http://127.0.0.1:9/v1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config["listen"]["rest"] = f"127.0.0.1:{taken.getsockname()[1]}"
        path = tmp_path / "gateway.yaml"
        path.write_text(yaml.safe_dump(config))
        sidecar = subprocess.run(
            [sys.executable, "-m", "llm_gateway", "sidecar", "--config", str(path)],
            capture_output=True,
            timeout=60,
        )
    assert sidecar.returncode != 0
