"""Anthropic callers: the official `anthropic` SDK pointed at the gateway's `/v1/messages`,
served by an OpenAI-compatible upstream and by an Anthropic one."""

from __future__ import annotations

import time

import anthropic
import pytest
import requests

from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, OTHER_KEY, Stack
from tests.test_cancellation import log_entry

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.fixture
def claude(stack: Stack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.rest_url, api_key=KEY, max_retries=0, timeout=20)


@pytest.mark.parametrize("model", ["gpt-echo", "claude-echo", "gemini-echo"])
def test_message(claude: anthropic.Anthropic, upstream: ScriptedUpstream, model: str) -> None:
    raw = claude.messages.with_raw_response.create(
        model=model,
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "hello big world"}],
        stop_sequences=["NEVER"],
        extra_body={"temperature": 0.3},  # no longer in the SDK's signature, still accepted
    )
    deployments = {"gpt-echo": "scripted/echo", "claude-echo": "claude/echo"}
    assert raw.headers["x-llm-gateway-deployment"] == deployments.get(model, "gemini/echo")
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text == "hello big world"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 3
    sent = upstream.last().body
    if model == "gpt-echo":
        assert sent["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello big world"},
        ]
        limits = (sent["max_completion_tokens"], sent["stop"], sent["temperature"])
        assert limits == (100, ["NEVER"], 0.3)
    elif model == "gemini-echo":
        assert sent["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
        config = sent["generationConfig"]
        limits = (config["maxOutputTokens"], config["stopSequences"], config["temperature"])
        assert limits == (100, ["NEVER"], 0.3)
    else:
        # Passed through: the body exactly as the SDK wrote it, but for the model's name.
        assert sent["system"] == "Be brief."
        assert sent["stop_sequences"] == ["NEVER"]
        assert raw.headers.get("x-llm-gateway-dropped") is None


@pytest.mark.parametrize("model", ["gpt-echo", "claude-echo", "gemini-echo"])
def test_stream(claude: anthropic.Anthropic, model: str) -> None:
    with claude.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "one two three"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "one two three" and len(pieces) == 3
    assert final.content[0].text == "one two three"  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3


def test_raw_event_sequence(stack: Stack) -> None:
    response = requests.post(
        f"{stack.rest_url}/v1/messages",
        headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"},
        json={
            "model": "gpt-echo",
            "max_tokens": 10,
            "stream": True,
            "messages": [{"role": "user", "content": "a b"}],
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [line[7:] for line in response.text.splitlines() if line.startswith("event: ")]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


@pytest.mark.parametrize("model", ["gpt-echo", "claude-echo", "gemini-echo"])
def test_streamed_tool_use(
    claude: anthropic.Anthropic, upstream: ScriptedUpstream, model: str
) -> None:
    with claude.messages.stream(
        model=model,
        max_tokens=100,
        tools=[WEATHER],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "weather in Paris?"}],
    ) as stream:
        deltas = [e for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    # The arguments arrive in pieces (Gemini sends a call whole, in one).
    assert len(deltas) >= (1 if model == "gemini-echo" else 3)
    tool_use = next(b for b in final.content if b.type == "tool_use")
    assert tool_use.name == "get_weather"
    assert tool_use.input["city"] == "Paris"  # type: ignore[index]
    assert final.stop_reason == "tool_use"
    sent = upstream.last().body
    if model == "gpt-echo":
        assert sent["tool_choice"] == "required"
        assert sent["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]


@pytest.mark.parametrize("model", ["gpt-echo", "claude-echo", "gemini-echo"])
def test_tool_results_turn(
    claude: anthropic.Anthropic, upstream: ScriptedUpstream, model: str
) -> None:
    message = claude.messages.create(
        model=model,
        max_tokens=100,
        tools=[WEATHER],
        tool_choice={"type": "none"},
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_9",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_9", "content": "sunny"},
                    {"type": "text", "text": "thanks"},
                ],
            },
        ],
    )
    assert message.content[0].type == "text"
    sent = upstream.last().body
    if model == "gpt-echo":
        assert sent["messages"][1] == {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_9",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        }
        assert sent["messages"][2] == {
            "role": "tool",
            "tool_call_id": "toolu_9",
            "content": "sunny",
        }
        assert sent["messages"][3] == {
            "role": "user",
            "content": [{"type": "text", "text": "thanks"}],
        }
    elif model == "gemini-echo":
        call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "toolu_9"}
        assert sent["contents"][1]["parts"][1]["functionCall"] == call
        answer = {"name": "get_weather", "id": "toolu_9", "response": {"content": "sunny"}}
        assert sent["contents"][2]["parts"][0] == {"functionResponse": answer}
    else:
        assert sent["messages"][2]["content"][0] == {
            "type": "tool_result",
            "tool_use_id": "toolu_9",
            "content": "sunny",
        }


def test_image_blocks_reach_an_openai_upstream(
    claude: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    claude.messages.create(
        model="gpt-echo",
        max_tokens=10,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR="},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.png"},
                    },
                    {"type": "text", "text": "what is it"},
                ],
            }
        ],
    )
    parts = upstream.last().body["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR="}}
    assert parts[1] == {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}


def test_errors_in_anthropic_shape(stack: Stack, claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.AuthenticationError) as unauthorized:
        anthropic.Anthropic(
            base_url=stack.rest_url, api_key="sk-wrong-key-000", max_retries=0
        ).messages.create(
            model="gpt-echo", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert unauthorized.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(
            model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert missing.value.body["type"] == "error"  # type: ignore[index]
    with pytest.raises(anthropic.PermissionDeniedError):
        anthropic.Anthropic(
            base_url=stack.rest_url, api_key=OTHER_KEY, max_retries=0
        ).messages.create(
            model="claude-echo", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.BadRequestError) as invalid:
        claude.messages.create(model="gpt-echo", max_tokens=5, messages=[])
    assert invalid.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(
            model="claude-rate-limited", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        claude.messages.create(
            model="claude-overloaded", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert overloaded.value.status_code == 503
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    response = requests.post(
        f"{stack.rest_url}/v1/messages", headers={"x-api-key": KEY}, data=b"{nope", timeout=5
    )
    assert response.status_code == 400 and response.json()["type"] == "error"


@pytest.mark.parametrize("model", ["gpt-error-in-stream", "claude-error-in-stream"])
def test_midstream_error_is_an_error_event(claude: anthropic.Anthropic, model: str) -> None:
    texts = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        claude.messages.stream(
            model=model, max_tokens=100, messages=[{"role": "user", "content": "one two three"}]
        ) as stream,
    ):
        for text in stream.text_stream:
            texts.append(text)
    # The OpenAI double fails right after its opening chunk; Anthropic's after one word.
    assert texts == ([] if model.startswith("gpt") else ["one "])
    assert caught.value.body["type"] == "error"  # type: ignore[index]


def test_cancelled_stream_closes_the_upstream(
    claude: anthropic.Anthropic, upstream: ScriptedUpstream, stack: Stack
) -> None:
    with claude.messages.stream(
        model="gpt-slow",
        max_tokens=1000,
        messages=[{"role": "user", "content": "go"}],
        extra_headers={"x-request-id": "anthropic-cancel-1"},
    ) as stream:
        for index, _ in enumerate(stream.text_stream):
            if index == 3:
                break
    closed = time.monotonic()
    recorded = upstream.wait_closed("anthropic-cancel-1")
    assert not recorded.completed
    assert recorded.closed_at is not None and recorded.closed_at - closed < 1.0
    assert log_entry(stack, "anthropic-cancel-1")["status"] == 499


def test_extensions_reach_an_anthropic_upstream(
    claude: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    claude.messages.create(
        model="claude-echo",
        max_tokens=10,
        metadata={"user_id": "u-1"},
        messages=[{"role": "user", "content": "x"}],
        extra_body={"top_k": 3},
    )
    sent = upstream.last().body
    assert sent["top_k"] == 3
    assert sent["metadata"] == {"user_id": "u-1"}


def test_output_config_becomes_response_format_and_effort(
    claude: anthropic.Anthropic, upstream: ScriptedUpstream
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    claude.messages.create(
        model="gpt-echo",
        max_tokens=10,
        output_config={"format": {"type": "json_schema", "schema": schema}, "effort": "high"},
        messages=[{"role": "user", "content": "x"}],
    )
    sent = upstream.last().body
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema},
    }
    assert sent["reasoning_effort"] == "high"
    claude.messages.create(
        model="claude-echo",
        max_tokens=10,
        output_config={"effort": "low"},
        messages=[{"role": "user", "content": "x"}],
    )
    assert upstream.last().body["output_config"] == {"effort": "low"}


def test_proxy_refusals_in_anthropic_shape(stack: Stack) -> None:
    wrong_method = requests.get(
        f"{stack.rest_url}/v1/messages", headers={"x-api-key": KEY}, timeout=5
    )
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "Method GET is not allowed on /v1/messages.",
        },
    }
    too_large = requests.post(
        f"{stack.rest_url}/v1/messages",
        headers={"x-api-key": KEY},
        data=b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        timeout=10,
    )
    assert too_large.status_code == 413
    assert too_large.json()["error"]["type"] == "request_too_large"


def test_malformed_json_is_a_400_in_anthropic_shape(stack: Stack) -> None:
    response = requests.post(
        f"{stack.rest_url}/v1/messages",
        headers={"x-api-key": KEY, "content-type": "application/json"},
        data=b'{"model": "gpt-echo",',
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "The request body is not valid JSON.",
        },
    }
