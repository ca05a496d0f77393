"""Routing through the running stack: the caller sees only the deployment that served it (in
a header, in gRPC trailing metadata and in the log), never the retries and fallbacks."""

from __future__ import annotations

import json

import grpc
import openai
import pytest

from llm_gateway.v1 import chat_pb2
from tests.support.grpc_client import METADATA, stub
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import Stack

HELLO = [{"role": "user", "content": "hello there"}]


def log_entries(stack: Stack, model: str) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in stack.log_lines() if '"event":"request"' in line]
    return [e for e in entries if e["model"] == model]


def test_a_failing_deployment_is_retried_on_the_other(client: openai.OpenAI, stack: Stack) -> None:
    for _ in range(8):
        answer = client.chat.completions.with_raw_response.create(
            model="gpt-routed", messages=HELLO
        )
        assert answer.headers["x-llm-gateway-deployment"] == "claude-east"
        assert answer.parse().choices[0].message.content == "hello there"
        chunks = list(
            client.chat.completions.create(model="gpt-routed", messages=HELLO, stream=True)
        )
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello there"
        )
    entries = log_entries(stack, "gpt-routed")
    assert {e["deployment"] for e in entries} == {"claude-east"}
    assert {e["status"] for e in entries} == {200}
    assert any(e["attempts"] == 2 for e in entries)  # `broken` was tried first some of the time


@pytest.mark.parametrize("stream", [False, True])
def test_fallback_to_another_provider(
    client: openai.OpenAI, upstream: ScriptedUpstream, stream: bool
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-falls-back", messages=HELLO, stream=stream
    )
    assert raw.headers["x-llm-gateway-deployment"] == "gemini/echo"
    assert upstream.last().path == "/gemini/v1beta/models/echo:" + (
        "streamGenerateContent" if stream else "generateContent"
    )
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    else:
        text = raw.parse().choices[0].message.content or ""
    assert text == "hello there"


def test_deployment_in_grpc_trailing_metadata(stack: Stack) -> None:
    channel, gateway = stub(stack.grpc_target)
    with channel:
        request = chat_pb2.ChatCompletionRequest(
            model="gpt-falls-back",
            messages=[chat_pb2.ChatMessage(role="user", text="hi")],
        )
        _, call = gateway.CreateChatCompletion.with_call(request, metadata=METADATA, timeout=10)
        assert dict(call.trailing_metadata())["x-llm-gateway-deployment"] == "gemini/echo"
        with pytest.raises(grpc.RpcError) as caught:
            gateway.CreateChatCompletion(
                chat_pb2.ChatCompletionRequest(
                    model="gpt-server-error", messages=[chat_pb2.ChatMessage(role="user", text="x")]
                ),
                metadata=METADATA,
                timeout=10,
            )
        trailers = dict(caught.value.trailing_metadata())  # type: ignore[attr-defined]
        assert trailers["x-llm-gateway-deployment"] == "scripted/server-error"


def test_failed_deployment_is_named_on_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-server-error", messages=HELLO)
    assert caught.value.response.headers["x-llm-gateway-deployment"] == "scripted/server-error"
