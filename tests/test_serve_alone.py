"""`llm-gateway serve` runs the gateway alone: gRPC only, no Envoy, and stops on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import requests

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
