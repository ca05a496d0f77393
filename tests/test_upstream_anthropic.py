"""OpenAI callers served by an Anthropic upstream: the official `openai` SDK through Envoy, a
scripted double of Anthropic's Messages API behind the gateway."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from llm_gateway.v1 import chat_pb2, common_pb2
from tests.support import scripted_anthropic
from tests.support.grpc_client import METADATA, stub
from tests.support.reasoning_turns import first_tool_turn
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import Stack
from tests.test_cancellation import log_entry

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def test_text_and_request_translation(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    answer = client.chat.completions.with_raw_response.create(
        model="claude-echo",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": "hello there"},
            {"role": "user", "content": [{"type": "text", "text": "big world"}]},
        ],
        temperature=0.5,
        top_p=0.9,
        user="user-7",
        extra_body={"top_k": 5},
    )
    assert answer.headers["x-llm-gateway-deployment"] == "claude/echo"
    completion = answer.parse()
    assert completion.choices[0].message.content == "hello there big world"
    assert completion.choices[0].finish_reason == "stop"
    # Anthropic's input tokens exclude the cached ones; OpenAI's prompt tokens include them.
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 4 + 2
    assert completion.usage.completion_tokens == 4
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 2
    sent = upstream.last()
    assert sent.path == "/anthropic/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Answer in English."},
    ]
    # Two user messages in a row are one Anthropic turn.
    assert sent.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hello there"},
                {"type": "text", "text": "big world"},
            ],
        }
    ]
    assert sent.body["max_tokens"] == 64  # the provider's default_max_tokens
    assert (sent.body["temperature"], sent.body["top_p"], sent.body["top_k"]) == (0.5, 0.9, 5)
    assert sent.body["metadata"] == {"user_id": "user-7"}


def test_stream_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="claude-echo",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_stop_sequences_and_max_tokens(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    stopped = client.chat.completions.create(
        model="claude-echo", messages=[{"role": "user", "content": "a b STOP c"}], stop="STOP"
    )
    assert stopped.choices[0].message.content == "a b "
    assert stopped.choices[0].finish_reason == "stop"
    assert upstream.last().body["stop_sequences"] == ["STOP"]
    cut = client.chat.completions.create(
        model="claude-echo",
        messages=[{"role": "user", "content": "a b c d"}],
        max_completion_tokens=2,
    )
    assert cut.choices[0].finish_reason == "length"
    assert upstream.last().body["max_tokens"] == 2


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_assembled_from_many_deltas(
    client: openai.OpenAI, upstream: ScriptedUpstream, stream: bool
) -> None:
    kwargs = {
        "model": "claude-echo",
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
    }
    if stream:
        chunks = list(client.chat.completions.create(**kwargs, stream=True))  # type: ignore[call-overload]
        calls = [
            c.choices[0].delta.tool_calls
            for c in chunks
            if c.choices and c.choices[0].delta.tool_calls
        ]
        assert len(calls) == 6  # the opening delta, then five argument pieces
        assert calls[0][0].id == "toolu_01" and calls[0][0].function.name == "get_weather"
        assert all(call[0].index == 0 for call in calls)
        arguments = "".join(call[0].function.arguments or "" for call in calls)
        finish = [
            c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
        ]
        assert finish == ["tool_calls"]
    else:
        completion = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
        call = completion.choices[0].message.tool_calls[0]
        assert (call.id, call.function.name) == ("toolu_01", "get_weather")
        arguments = call.function.arguments
        assert completion.choices[0].finish_reason == "tool_calls"
    assert json.loads(arguments) == {"city": "Paris", "unit": "celsius"}
    sent = upstream.last().body
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert sent["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }


def test_multi_turn_with_tool_results(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    completion = client.chat.completions.create(
        model="claude-echo",
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "t2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "rainy"}]},
        ],
    )
    assert completion.choices[0].message.content == "result: sunny rainy"
    messages = upstream.last().body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "t2", "content": "rainy"},
    ]


def test_images_go_as_base64_or_url(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    client.chat.completions.create(
        model="claude-echo",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "compare"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    },
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    blocks = upstream.last().body["messages"][0]["content"]
    assert blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert blocks[2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
    }


@pytest.mark.parametrize("stream", [False, True])
def test_json_output_through_a_forced_tool(
    client: openai.OpenAI, upstream: ScriptedUpstream, stream: bool
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    kwargs = {
        "model": "claude-echo",
        "messages": [{"role": "user", "content": "Where is the Louvre?"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "place", "schema": schema},
        },
    }
    if stream:
        chunks = list(client.chat.completions.create(**kwargs, stream=True))  # type: ignore[call-overload]
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert all(not c.choices or not c.choices[0].delta.tool_calls for c in chunks)
        finish = [
            c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
        ]
    else:
        completion = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
        content = completion.choices[0].message.content or ""
        assert completion.choices[0].message.tool_calls is None
        finish = [completion.choices[0].finish_reason]
    assert json.loads(content) == {"city": "Paris", "unit": "celsius"}
    assert finish == ["stop"]
    sent = upstream.last().body
    assert sent["tool_choice"] == {"type": "tool", "name": "json_output"}
    assert sent["tools"][0]["input_schema"] == schema


@pytest.mark.parametrize(
    ("field", "value"),
    [("n", 2), ("logprobs", True), ("seed", 7), ("presence_penalty", 0.5)],
)
def test_unhonourable_fields_are_refused(client: openai.OpenAI, field: str, value: object) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="claude-echo",
            messages=[{"role": "user", "content": "hi"}],
            **{field: value},  # type: ignore[arg-type]
        )
    assert caught.value.body["param"] == field  # type: ignore[index]
    assert caught.value.body["code"] == "unsupported_parameter"  # type: ignore[index]


def test_legacy_completion_is_served_as_a_chat(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    completion = client.completions.create(model="claude-echo", prompt="say this", max_tokens=5)
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "say this"
    assert upstream.last().body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "say this"}]}
    ]
    streamed = client.completions.create(model="claude-echo", prompt="a b", stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "a b"
    for field, value in (("echo", True), ("logprobs", 2), ("suffix", "x"), ("best_of", 2)):
        with pytest.raises(openai.BadRequestError) as caught:
            client.completions.create(model="claude-echo", prompt="x", **{field: value})  # type: ignore[call-overload]
        assert caught.value.body["param"] == field  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="claude-echo", prompt=["one", "two"])
    assert caught.value.body["param"] == "prompt"  # type: ignore[index]


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("claude-overloaded", 503, "upstream_overloaded"),
        ("claude-rate-limited", 429, "rate_limit_exceeded"),  # Anthropic's rate_limit_error
        ("claude-bad-request", 400, None),
    ],
)
def test_upstream_errors_are_mapped(
    client: openai.OpenAI, model: str, status: int, code: str | None
) -> None:
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as caught:
            result = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}], stream=stream
            )
            list(result)  # type: ignore[call-overload]
        assert caught.value.status_code == status
        assert caught.value.body["code"] == code  # type: ignore[index]
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "7"
        assert caught.value.body["type"] == "rate_limit_error"  # type: ignore[index]
    if status == 400:
        assert "non-empty" in caught.value.message


def test_error_event_mid_stream_reaches_the_sdk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="claude-error-in-stream",
        messages=[{"role": "user", "content": "one two three"}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content if chunk.choices else None)
    assert "one " in received  # what arrived before the error is delivered
    assert "Overloaded" in caught.value.message


def test_cancelled_stream_closes_the_upstream(
    client: openai.OpenAI, upstream: ScriptedUpstream, stack: Stack
) -> None:
    stream = client.chat.completions.create(
        model="claude-slow",
        messages=[{"role": "user", "content": "go"}],
        stream=True,
        extra_headers={"x-request-id": "claude-cancel-1"},
    )
    for index, _ in enumerate(stream):
        if index == 3:
            break
    stream.close()
    closed = time.monotonic()
    recorded = upstream.wait_closed("claude-cancel-1")
    assert not recorded.completed
    assert recorded.closed_at is not None and recorded.closed_at - closed < 1.0
    entry = log_entry(stack, "claude-cancel-1")
    assert entry["status"] == 499 and entry["deployment"] == "claude/slow"


@pytest.mark.parametrize("model", ["claude-echo", "gemini-echo"])
def test_typed_grpc_stream_from_a_chat_only_provider(stack: Stack, model: str) -> None:
    channel, gateway = stub(stack.grpc_target)
    with channel:
        request = chat_pb2.ChatCompletionRequest(
            model=model,
            messages=[chat_pb2.ChatMessage(role="user", text="one two three")],
            stream_options=common_pb2.StreamOptions(include_usage=True),
        )
        chunks = list(gateway.StreamChatCompletion(request, metadata=METADATA, timeout=10))
    text = "".join(c.choices[0].delta.content for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[-1].usage.completion_tokens == 3


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_an_openai_caller_keeps_claudes_signed_thinking_across_a_tool_turn(
    client: openai.OpenAI, upstream: ScriptedUpstream, stream: bool
) -> None:
    """With `thinking` on (through `extra_body`), Anthropic refuses a tool-use turn that does
    not start with the signed thinking block it came with. An OpenAI caller gets the block as
    `reasoning_content` and a `reasoning_signature` tagged `anthropic:`; sending the message
    back rebuilds the block, so the tool loop goes on."""
    kwargs: dict[str, Any] = {
        "model": "claude-echo",
        "max_tokens": 2048,
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": TOOLS,
        "extra_body": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    }
    first = first_tool_turn(client, kwargs, stream)
    expected = f"anthropic:{scripted_anthropic.THINKING['signature']}"
    assert first.reasoning == {
        "reasoning_content": scripted_anthropic.THINKING["thinking"],
        "reasoning_signature": expected,
    }
    kwargs["messages"] += first.sent_back("sunny")
    client.chat.completions.create(**kwargs)  # the double refuses a turn without the block
    sent = upstream.last().body["messages"][1]["content"][0]
    assert sent == scripted_anthropic.THINKING
