"""Request validation against OpenAI's schemas: what passes, and what each error names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_gateway.errors import GatewayError
from llm_gateway.model import Endpoint, RequestValidator
from llm_gateway.model.validators import chat_completions

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


# The request schemas compiled as fastjsonschema writes them, without the generator's
# rewrites (scripts/generate.py), which must not change any outcome.
_SCHEMAS = json.loads(
    (Path(chat_completions.__file__).parent.parent / "schemas" / "openai_requests.json").read_text()
)
_AS_COMPILED = fastjsonschema.compile(_SCHEMAS["chat_completions"], use_default=False)
ROLES = st.sampled_from(["developer", "system", "user", "assistant", "tool", "function", "x"])
PART = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "refusal", "image_url", 3])},
    optional={"text": st.sampled_from(["a", 1]), "refusal": st.sampled_from(["no", None])},
)
MESSAGE = st.one_of(
    st.fixed_dictionaries(
        {"role": st.one_of(ROLES, st.integers(0, 2), st.none())},
        optional={
            "content": st.one_of(st.text(max_size=3), st.lists(PART, max_size=3), st.integers()),
            "name": st.sampled_from(["n", 5]),
            "tool_call_id": st.sampled_from(["c1", None]),
            "refusal": st.sampled_from(["r", 2]),
        },
    ),
    st.fixed_dictionaries({}, optional={"content": st.text(max_size=3)}),
    st.text(max_size=2),
)


def _outcome(validate: Any, body: dict[str, Any]) -> tuple[str, ...]:
    try:
        validate(body)
    except fastjsonschema.JsonSchemaValueException as error:
        return ("refused", error.message, str(error.name), str(error.rule))
    return ("accepted",)


@settings(max_examples=400, deadline=None)
@given(st.lists(MESSAGE, min_size=1, max_size=4))
def test_the_generated_validator_decides_as_the_schema_compiled_as_is(messages: Any) -> None:
    body = {"model": "m", "messages": messages}
    assert _outcome(chat_completions.validate, body) == _outcome(_AS_COMPILED, body)


def test_a_message_costs_the_validator_no_exception_raised_and_caught() -> None:
    raised: list[str] = []

    def counting(*args: Any, **kwargs: Any) -> None:
        raised.append(str(kwargs.get("name")))
        original(*args, **kwargs)

    original = fastjsonschema.JsonSchemaValueException.__init__
    body = {"model": "m", "messages": [{"role": r, "content": "x"} for r in ("system", "user")]}
    try:
        fastjsonschema.JsonSchemaValueException.__init__ = counting  # type: ignore[method-assign]
        chat_completions.validate(body)
    finally:
        fastjsonschema.JsonSchemaValueException.__init__ = original  # type: ignore[method-assign]
    assert raised == []
