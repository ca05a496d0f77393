"""Request validation against OpenAI's schemas: what passes, and what each error names."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_gateway.errors import GatewayError
from llm_gateway.model import Endpoint, RequestValidator

VALIDATOR = RequestValidator()
REJECTING = RequestValidator("reject")
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def error_of(call: Any, body: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        call(body)
    assert caught.value.status == 400
    return caught.value


def test_full_chat_request_is_valid() -> None:
    body = {
        **CHAT,
        "temperature": 0,
        "top_p": 1,
        "n": 2,
        "stream": True,
        "stream_options": {"include_usage": True},
        "stop": "x",
        "max_tokens": 5,
        "max_completion_tokens": 5,
        "presence_penalty": -2,
        "frequency_penalty": 2,
        "logit_bias": {"1": -100},
        "logprobs": True,
        "top_logprobs": 20,
        "seed": 1,
        "user": "u",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": True,
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {}}},
        "metadata": {"k": "v"},
        "store": False,
        "service_tier": "auto",
        "reasoning_effort": "low",
        "modalities": ["text"],
        "prediction": {"type": "content", "content": "x"},
        "audio": {"voice": "alloy", "format": "mp3"},
        "messages": [
            {"role": "developer", "content": "d"},
            {"role": "system", "content": [{"type": "text", "text": "s"}]},
            {
                "role": "user",
                "name": "n",
                "content": [
                    {"type": "text", "text": "t"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                    {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c", "content": "r"},
        ],
    }
    request = VALIDATOR.chat(body)
    assert request.endpoint is Endpoint.CHAT and request.stream and request.include_usage


def test_nulls_are_accepted_where_openai_accepts_them() -> None:
    body = {
        **CHAT,
        "temperature": None,
        "stop": None,
        "n": None,
        "stream_options": None,
        "logit_bias": None,
        "reasoning_effort": None,
    }
    assert VALIDATOR.chat(body).body is body


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({**CHAT, "temperature": 2.5}, "temperature", "smaller than or equal to 2"),
        ({**CHAT, "n": 1.5}, "n", "integer"),
        ({"model": "m"}, "messages", "Missing required parameter"),
        ({**CHAT, "messages": [{"role": "user"}]}, "messages[0].content", "Missing required"),
        ({**CHAT, "messages": [{"content": "x"}]}, "messages[0].role", "Missing required"),
        ({**CHAT, "tool_choice": "sometimes"}, "tool_choice", "does not match"),
        ({**CHAT, "logit_bias": {"1": "x"}}, "logit_bias.1", "integer"),
    ],
)
def test_chat_errors_name_the_param(body: dict[str, Any], param: str, fragment: str) -> None:
    error = error_of(VALIDATOR.chat, body)
    assert error.param == param
    assert fragment in error.message


def test_completion_with_messages_becomes_chat() -> None:
    request = VALIDATOR.completion(
        {
            "model": "m",
            "prompt": None,
            "max_tokens": 3,
            "messages": [{"role": "user", "content": "x"}],
        }
    )
    assert request.endpoint is Endpoint.CHAT and request.as_text_completion
    assert "prompt" not in request.body and request.body["max_tokens"] == 3


def test_unknown_fields() -> None:
    assert VALIDATOR.chat({**CHAT, "top_k": 3}).body["top_k"] == 3
    error = error_of(REJECTING.chat, {**CHAT, "top_k": 3})
    assert (error.param, error.code) == ("top_k", "unknown_parameter")
    # Modelled fields, proto3 `optional` ones included, are never "unknown".
    assert REJECTING.chat({**CHAT, "temperature": 1, "seed": 3}).body["seed"] == 3
    assert REJECTING.completion({"model": "m", "prompt": "p", "echo": True}).body["echo"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
KEYS = st.sampled_from(
    [
        "model",
        "messages",
        "prompt",
        "temperature",
        "n",
        "stop",
        "tools",
        "tool_choice",
        "stream",
        "stream_options",
        "logprobs",
        "echo",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, JSON, max_size=6))
def test_any_body_is_either_accepted_or_a_named_400(body: dict[str, Any]) -> None:
    for call in (VALIDATOR.chat, VALIDATOR.completion):
        try:
            call(dict(body))
        except GatewayError as error:
            assert error.status == 400 and error.message
            assert (
                error.param is None
                or error.param.split(".")[0].split("[")[0] in body
                or error.param in ("messages", "prompt", "model")
            )
