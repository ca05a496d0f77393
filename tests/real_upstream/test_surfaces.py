"""The real model over the typed gRPC API and through the Anthropic and Gemini surfaces: the
requests are translated to OpenAI's API for llama-server and its answers back."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import grpc
import pytest
from google import genai
from google.genai import types
from google.protobuf import struct_pb2

from llm_gateway.v1 import chat_pb2, common_pb2, completions_pb2, llm_gateway_service_pb2_grpc
from tests.real_upstream.conftest import MODEL, LocalStack
from tests.support.grpc_client import METADATA, stub
from tests.support.stack import KEY

pytestmark = pytest.mark.real_upstream
Stub = llm_gateway_service_pb2_grpc.LlmGatewayServiceStub


@pytest.fixture(params=["direct", "envoy"])
def gateway(request: pytest.FixtureRequest, local: LocalStack) -> Iterator[Stub]:
    stack = local.stack
    channel, client = stub(stack.grpc_target if request.param == "direct" else stack.envoy_target)
    yield client
    channel.close()


def test_grpc_chat_unary_and_stream(gateway: Stub, local: LocalStack) -> None:
    request = chat_pb2.ChatCompletionRequest(
        model=MODEL,
        messages=[chat_pb2.ChatMessage(role="user", text="Name three colours.")],
        max_tokens=30,
        seed=2,
        temperature=0.0,
    )
    before = local.server_metrics()
    answer = gateway.CreateChatCompletion(request, metadata=METADATA, timeout=60)
    after = local.server_metrics()
    assert len(answer.choices[0].message.content.split()) >= 2
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert answer.usage.completion_tokens == predicted and answer.usage.prompt_tokens > 5
    request.stream_options.include_usage = True
    chunks = list(gateway.StreamChatCompletion(request, metadata=METADATA, timeout=60))
    text = "".join(c.choices[0].delta.content for c in chunks if c.choices)
    assert text == answer.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == answer.usage.completion_tokens


def test_grpc_completion_and_its_errors(gateway: Stub) -> None:
    answer = gateway.CreateCompletion(
        completions_pb2.CompletionRequest(
            model=MODEL, text="The capital of France is", max_tokens=6, temperature=0.0
        ),
        metadata=METADATA,
        timeout=60,
    )
    assert "Paris" in answer.choices[0].text
    with pytest.raises(grpc.RpcError) as caught:
        gateway.CreateChatCompletion(
            chat_pb2.ChatCompletionRequest(
                model=MODEL, messages=[chat_pb2.ChatMessage(role="user", text="hi " * 4000)]
            ),
            metadata=METADATA,
            timeout=60,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "context size" in (caught.value.details() or "")


def _chat(text: str, **fields: object) -> chat_pb2.ChatCompletionRequest:
    return chat_pb2.ChatCompletionRequest(
        model=MODEL, messages=[chat_pb2.ChatMessage(role="user", text=text)], **fields
    )


def test_grpc_length_stop_seed_and_logprobs(gateway: Stub) -> None:
    cut = gateway.CreateChatCompletion(
        _chat("Write a long story.", max_tokens=5), metadata=METADATA, timeout=60
    )
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 5
    counting = "Count from 1 to 10, one per line."
    free = gateway.CreateChatCompletion(
        _chat(counting, max_tokens=60, temperature=0.0), metadata=METADATA, timeout=60
    )
    stopped = gateway.CreateChatCompletion(
        _chat(
            counting,
            max_tokens=60,
            temperature=0.0,
            stop=common_pb2.StopSequences(sequences=["3"], single=True),
        ),
        metadata=METADATA,
        timeout=60,
    )
    text = stopped.choices[0].message.content
    assert "3" not in text and free.choices[0].message.content.startswith(text)
    sampled = [
        gateway.CreateChatCompletion(
            _chat("Invent a word.", max_tokens=20, temperature=1.5, seed=21),
            metadata=METADATA,
            timeout=60,
        )
        .choices[0]
        .message.content
        for _ in range(2)
    ]
    assert sampled[0] == sampled[1]
    scored = gateway.CreateChatCompletion(
        _chat("Name three colours.", max_tokens=5, logprobs=True, top_logprobs=2),
        metadata=METADATA,
        timeout=60,
    )
    entries = scored.choices[0].logprobs.content
    assert len(entries) == scored.usage.completion_tokens
    assert all(len(entry.top_logprobs) == 2 and entry.logprob <= 0 for entry in entries)


def test_grpc_json_schema_and_streamed_tool_calls(gateway: Stub) -> None:
    schema = struct_pb2.Struct()
    schema.update(
        {
            "type": "object",
            # Bounded, so that a small model's ramble cannot run past max_tokens mid-string.
            "properties": {
                "name": {"type": "string", "maxLength": 20},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
            },
            "required": ["name", "age"],
        }
    )
    shaped = gateway.CreateChatCompletion(
        _chat(
            "Describe a person as JSON.",
            max_tokens=60,
            temperature=0.0,
            seed=3,
            response_format=chat_pb2.ResponseFormat(
                type="json_schema",
                json_schema=chat_pb2.JsonSchemaFormat(name="person", schema=schema),
            ),
        ),
        metadata=METADATA,
        timeout=60,
    )
    person = json.loads(shaped.choices[0].message.content)
    assert isinstance(person["name"], str) and isinstance(person["age"], int)
    parameters = struct_pb2.Struct()
    parameters.update(
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    )
    tool = chat_pb2.Tool(
        type="function",
        function=chat_pb2.FunctionDefinition(
            name="get_weather", description="Get the weather of a city", parameters=parameters
        ),
    )
    example = chat_pb2.ChatMessage(
        role="assistant",
        tool_calls=[
            chat_pb2.ToolCall(
                id="call_1",
                type="function",
                function=chat_pb2.FunctionCall(name="get_weather", arguments='{"city": "Paris"}'),
            )
        ],
    )
    request = chat_pb2.ChatCompletionRequest(
        model=MODEL,
        messages=[
            chat_pb2.ChatMessage(role="user", text="What is the weather in Paris?"),
            example,
            chat_pb2.ChatMessage(role="user", text="What is the weather in Berlin?"),
        ],
        tools=[tool],
        max_tokens=60,
        temperature=0.0,
    )
    arguments, names, finish = "", "", ""
    for chunk in gateway.StreamChatCompletion(request, metadata=METADATA, timeout=60):
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls:
                names += call.function.name
                arguments += call.function.arguments
    assert finish == "tool_calls" and names == "get_weather"
    assert json.loads(arguments) == {"city": "Berlin"}


def test_grpc_cancellation_frees_the_servers_slot(gateway: Stub, local: LocalStack) -> None:
    request = _chat("Write a very long story.", max_tokens=1500)
    request.extra_body.update({"ignore_eos": True})
    call = gateway.StreamChatCompletion(request, metadata=METADATA, timeout=60)
    for _ in range(10):
        next(call)
    assert any(slot["is_processing"] for slot in local.slots())
    call.cancel()
    assert local.wait_idle(10), local.slots()


def test_anthropic_messages_through_translation(local: LocalStack) -> None:
    claude = anthropic.Anthropic(base_url=local.stack.rest_url, api_key=KEY, max_retries=0)
    message = claude.messages.create(
        model=MODEL,
        max_tokens=30,
        system="You answer briefly.",
        messages=[{"role": "user", "content": "Name three colours."}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and len(message.content[0].text.split()) >= 2
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 5 and message.usage.output_tokens >= 2
    with claude.messages.stream(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "Write a long story."}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason == "max_tokens" and final.usage.output_tokens == 5


def test_gemini_generate_content_through_translation(local: LocalStack) -> None:
    options = types.HttpOptions(base_url=local.stack.rest_url, api_version="v1beta")
    gemini = genai.Client(api_key=KEY, http_options=options)
    answer = gemini.models.generate_content(
        model=MODEL,
        contents="Name three colours.",
        config=types.GenerateContentConfig(max_output_tokens=30, temperature=0),
    )
    assert answer.text and len(answer.text.split()) >= 2
    assert answer.usage_metadata is not None
    assert (answer.usage_metadata.prompt_token_count or 0) > 5
    assert (answer.usage_metadata.candidates_token_count or 0) >= 2
    streamed = "".join(
        chunk.text or ""
        for chunk in gemini.models.generate_content_stream(
            model=MODEL,
            contents="Name three colours.",
            config=types.GenerateContentConfig(max_output_tokens=30, temperature=0),
        )
    )
    assert streamed == answer.text
    shaped = gemini.models.generate_content(
        model=MODEL,
        contents="Describe a city as JSON.",
        config=types.GenerateContentConfig(
            max_output_tokens=60,
            temperature=0,
            seed=3,
            response_mime_type="application/json",
            response_schema={
                "type": "OBJECT",
                "properties": {"city": {"type": "STRING"}},
                "required": ["city"],
            },
        ),
    )
    assert isinstance(json.loads(shaped.text or "")["city"], str)
