"""The typed gRPC service, called directly and through Envoy's gRPC passthrough."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from llm_gateway.v1 import (
    chat_pb2,
    common_pb2,
    completions_pb2,
    llm_gateway_service_pb2_grpc,
    models_pb2,
)
from tests.support.grpc_client import METADATA, error_details, stub
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack

Stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub


@pytest.fixture(params=["direct", "envoy"])
def gateway(request: pytest.FixtureRequest, stack: Stack) -> Iterator[Stub]:
    target = stack.grpc_target if request.param == "direct" else stack.envoy_target
    channel, client = stub(target)
    yield client
    channel.close()


def user(text: str) -> chat_pb2.ChatMessage:
    return chat_pb2.ChatMessage(role="user", text=text)


def test_chat_unary(gateway: Stub, upstream: ScriptedUpstream) -> None:
    request = chat_pb2.ChatCompletionRequest(
        model="gpt-echo",
        messages=[chat_pb2.ChatMessage(role="system", text="be brief"), user("hello grpc")],
        temperature=0.0,
        top_p=0.5,
        stop=common_pb2.StopSequences(sequences=["\n"], single=True),
        logit_bias={"50256": -100},
        metadata={"team": "a"},
    )
    answer, call = gateway.CreateChatCompletion.with_call(request, metadata=METADATA, timeout=10)
    assert answer.object == "chat.completion" and answer.created == 1_700_000_000
    assert answer.choices[0].message.content == "hello grpc"
    assert not answer.choices[0].message.HasField("refusal")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.completion_tokens == 2 and answer.usage.total_tokens == 4
    assert answer.usage.prompt_tokens_details.cached_tokens == 0
    assert len(dict(call.trailing_metadata())["x-request-id"]) >= 16
    forwarded = upstream.last().body
    assert forwarded["temperature"] == 0.0  # present though zero: `optional` keeps it
    assert forwarded["stop"] == "\n" and forwarded["logit_bias"] == {"50256": -100}
    assert forwarded["messages"][0] == {"role": "system", "content": "be brief"}
    assert "top_k" not in forwarded and "n" not in forwarded


def test_chat_content_parts_and_tools(gateway: Stub, upstream: ScriptedUpstream) -> None:
    parameters = struct_pb2.Struct()
    parameters.update({"type": "object", "properties": {"city": {"type": "string"}}})
    request = chat_pb2.ChatCompletionRequest(
        model="gpt-echo",
        messages=[
            chat_pb2.ChatMessage(
                role="user",
                parts=chat_pb2.ContentParts(
                    parts=[
                        chat_pb2.ContentPart(text="what is"),
                        chat_pb2.ContentPart(
                            image_url=chat_pb2.ImageUrl(url="https://x.test/a.png", detail="low")
                        ),
                    ]
                ),
            )
        ],
        tools=[
            chat_pb2.Tool(
                type="function",
                function=chat_pb2.FunctionDefinition(name="weather", parameters=parameters),
            )
        ],
        tool_choice=chat_pb2.ToolChoice(function_name="weather"),
        response_format=chat_pb2.ResponseFormat(type="text"),
    )
    answer = gateway.CreateChatCompletion(request, metadata=METADATA, timeout=10)
    call = answer.choices[0].message.tool_calls[0]
    assert (call.id, call.type, call.function.name) == ("call_1", "function", "weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert not answer.choices[0].message.HasField("content")
    forwarded = upstream.last().body
    assert forwarded["messages"][0]["content"] == [
        {"type": "text", "text": "what is"},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
    ]
    assert forwarded["tools"][0]["function"]["parameters"]["properties"] == {
        "city": {"type": "string"}
    }
    assert forwarded["tool_choice"] == {"type": "function", "function": {"name": "weather"}}


def test_chat_stream(gateway: Stub) -> None:
    request = chat_pb2.ChatCompletionRequest(
        model="gpt-echo",
        messages=[user("one two three")],
        n=2,
        logprobs=True,
        top_logprobs=1,
        stream_options=common_pb2.StreamOptions(include_usage=True),
    )
    chunks = list(gateway.StreamChatCompletion(request, metadata=METADATA, timeout=10))
    texts = {0: "", 1: ""}
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk"
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content
    assert texts == {0: "one two three", 1: "one two three"}
    assert chunks[0].choices[0].delta.role == "assistant"
    with_logprobs = [c for c in chunks if c.choices and c.choices[0].logprobs.content]
    assert with_logprobs[0].choices[0].logprobs.content[0].top_logprobs[0].logprob == -0.5
    assert len(chunks[-1].choices) == 0 and chunks[-1].usage.completion_tokens == 6


def test_chat_stream_tool_call_deltas(gateway: Stub) -> None:
    request = chat_pb2.ChatCompletionRequest(
        model="gpt-echo",
        messages=[user("weather?")],
        tools=[
            chat_pb2.Tool(type="function", function=chat_pb2.FunctionDefinition(name="weather"))
        ],
    )
    arguments = ""
    for chunk in gateway.StreamChatCompletion(request, metadata=METADATA, timeout=10):
        for choice in chunk.choices:
            for call in choice.delta.tool_calls:
                arguments += call.function.arguments
    assert json.loads(arguments) == {"city": "Paris"}


def test_completion_unary_and_stream(gateway: Stub, upstream: ScriptedUpstream) -> None:
    request = completions_pb2.CompletionRequest(
        model="gpt-echo",
        token_lists=completions_pb2.PromptTokenLists(
            lists=[completions_pb2.PromptTokens(tokens=[1, 2])]
        ),
        echo=False,
        logprobs=1,
    )
    answer = gateway.CreateCompletion(request, metadata=METADATA, timeout=10)
    assert upstream.last().body["prompt"] == [[1, 2]]
    assert answer.object == "text_completion" and answer.choices[0].text == "[1, 2]"
    assert answer.choices[0].logprobs.token_logprobs[0].number_value == -0.5
    stream = completions_pb2.CompletionRequest(model="gpt-echo", text="a b c")
    text = "".join(
        c.choices[0].text
        for c in gateway.StreamCompletion(stream, metadata=METADATA, timeout=10)
        if c.choices
    )
    assert text == "a b c"


def test_completion_with_messages(gateway: Stub) -> None:
    request = completions_pb2.CompletionRequest(model="gpt-echo", messages=[user("as chat")])
    answer = gateway.CreateCompletion(request, metadata=METADATA, timeout=10)
    assert answer.object == "text_completion" and answer.choices[0].text == "as chat"


def test_extra_body_passes_through(gateway: Stub, upstream: ScriptedUpstream) -> None:
    extra = struct_pb2.Struct()
    extra.update({"top_k": 4})
    gateway.CreateChatCompletion(
        chat_pb2.ChatCompletionRequest(model="gpt-echo", messages=[user("x")], extra_body=extra),
        metadata=METADATA,
        timeout=10,
    )
    assert upstream.last().body["top_k"] == 4
    extra.update({"temperature": 1})
    with pytest.raises(grpc.RpcError) as caught:
        gateway.CreateChatCompletion(
            chat_pb2.ChatCompletionRequest(
                model="gpt-echo", messages=[user("x")], extra_body=extra
            ),
            metadata=METADATA,
            timeout=10,
        )
    assert error_details(caught.value)[0].param == "extra_body.temperature"


def test_invalid_argument_names_the_param(gateway: Stub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        gateway.CreateChatCompletion(
            chat_pb2.ChatCompletionRequest(model="gpt-echo", messages=[user("x")], temperature=3.5),
            metadata=METADATA,
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    detail, _ = error_details(caught.value)
    assert (detail.param, detail.type, detail.http_status) == (
        "temperature",
        "invalid_request_error",
        400,
    )
    with pytest.raises(grpc.RpcError) as missing:
        gateway.CreateChatCompletion(
            chat_pb2.ChatCompletionRequest(model="gpt-echo"), metadata=METADATA, timeout=10
        )
    assert error_details(missing.value)[0].param == "messages"


@pytest.mark.parametrize(
    "metadata",
    [(), (("authorization", "Bearer wrong-key-123"),), (("x-api-key", "wrong-key-123"),)],
)
def test_unauthenticated(gateway: Stub, metadata: tuple[tuple[str, str], ...]) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        gateway.ListModels(models_pb2.ListModelsRequest(), metadata=metadata, timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_details(caught.value)[0].code == "invalid_api_key"


@pytest.mark.parametrize("header", ["x-api-key", "x-goog-api-key"])
def test_key_metadata_styles(gateway: Stub, header: str) -> None:
    answer = gateway.ListModels(
        models_pb2.ListModelsRequest(), metadata=((header, KEY),), timeout=10
    )
    assert answer.object == "list" and "gpt-echo" in [m.id for m in answer.data]


def test_models(gateway: Stub) -> None:
    model = gateway.GetModel(
        models_pb2.GetModelRequest(model="org/model-with-slash"), metadata=METADATA, timeout=10
    )
    assert (model.id, model.object, model.owned_by) == ("org/model-with-slash", "model", "org")
    with pytest.raises(grpc.RpcError) as caught:
        gateway.GetModel(models_pb2.GetModelRequest(model="nope"), metadata=METADATA, timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_rate_limit_carries_retry_info(gateway: Stub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        gateway.CreateChatCompletion(
            chat_pb2.ChatCompletionRequest(model="gpt-rate-limited", messages=[user("x")]),
            metadata=(*METADATA, ("x-request-id", "grpc-rid-429")),
            timeout=10,
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(caught.value.trailing_metadata())["x-request-id"] == "grpc-rid-429"
    detail, others = error_details(caught.value)
    assert detail.http_status == 429
    retry = others[0]
    assert isinstance(retry, error_details_pb2.RetryInfo) and retry.retry_delay.seconds == 7


def test_midstream_failure_ends_with_status(gateway: Stub) -> None:
    # Repeated: the chunks that arrived before the break must all be relayed, every time.
    for _ in range(10):
        received = []
        with pytest.raises(grpc.RpcError) as caught:
            for chunk in gateway.StreamChatCompletion(
                chat_pb2.ChatCompletionRequest(
                    model="gpt-fail-midstream", messages=[user("a b c d")]
                ),
                metadata=METADATA,
                timeout=10,
            ):
                received.append(chunk)
        assert len(received) == 2
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_details(caught.value)[0].code == "upstream_stream_interrupted"


def test_deadline_ends_the_upstream_call(stack: Stack, upstream: ScriptedUpstream) -> None:
    channel, client = stub(stack.grpc_target)
    with channel:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            list(
                client.StreamChatCompletion(
                    chat_pb2.ChatCompletionRequest(model="gpt-slow", messages=[user("x")]),
                    metadata=(*METADATA, ("x-request-id", "deadline-1")),
                    timeout=0.3,
                )
            )
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    recorded = upstream.wait_closed("deadline-1")
    assert recorded.closed_at is not None and not recorded.completed
    assert recorded.closed_at - started < 0.3 + 0.5


def test_health_and_reflection(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "llm_gateway.v1.LlmGatewayService"):
            status = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert status.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = list(
            reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
        )
        names = {s.name for s in answers[0].list_services_response.service}
        assert {
            "llm_gateway.v1.LlmGatewayService",
            "llm_gateway.v1.OpenAIRestService",
            "grpc.health.v1.Health",
        } <= names


def test_fields_another_api_cannot_carry_are_named_in_trailing_metadata(
    gateway: Stub, upstream: ScriptedUpstream
) -> None:
    request = chat_pb2.ChatCompletionRequest(
        model="claude-echo", messages=[user("hello")], prompt_cache_key="k1"
    )
    _, call = gateway.CreateChatCompletion.with_call(request, metadata=METADATA, timeout=10)
    trailing = dict(call.trailing_metadata())
    assert trailing["x-llm-gateway-dropped"] == "prompt_cache_key"
    assert "prompt_cache_key" not in upstream.last().body
