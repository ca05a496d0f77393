"""The OpenAI REST surface through Envoy, driven by the official `openai` SDK."""

from __future__ import annotations

import json

import openai
import pytest

from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import OTHER_KEY, Stack


def test_chat_completion(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    answer = client.chat.completions.create(
        model="gpt-echo",
        messages=[{"role": "user", "content": "hello there"}],
        temperature=0.2,
        max_tokens=50,
        seed=7,
        user="u1",
    )
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.content == "hello there"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.total_tokens == 4
    forwarded = upstream.last().body
    assert forwarded["model"] == "echo"  # the upstream's own name
    assert forwarded["temperature"] == 0.2 and forwarded["seed"] == 7
    assert forwarded["max_tokens"] == 50 and forwarded["user"] == "u1"
    assert "stream" not in forwarded


def test_chat_completion_with_n_and_logprobs(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(
        model="gpt-echo",
        messages=[{"role": "user", "content": "a b"}],
        n=2,
        logprobs=True,
        top_logprobs=2,
    )
    assert [c.index for c in answer.choices] == [0, 1]
    logprobs = answer.choices[1].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert [t.token for t in logprobs.content] == ["a ", "b"]
    assert logprobs.content[0].bytes == list(b"a ")
    assert len(logprobs.content[0].top_logprobs) == 2


def test_chat_stop_and_length(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    stopped = client.chat.completions.create(
        model="gpt-echo", messages=[{"role": "user", "content": "one two END three"}], stop=["END"]
    )
    assert stopped.choices[0].message.content == "one two "
    assert upstream.last().body["stop"] == ["END"]
    cut = client.chat.completions.create(
        model="gpt-echo",
        messages=[{"role": "user", "content": "one two three"}],
        max_completion_tokens=2,
    )
    assert cut.choices[0].finish_reason == "length"


def test_chat_tools(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    answer = client.chat.completions.create(
        model="gpt-echo",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,
        tool_choice="auto",
        parallel_tool_calls=False,
    )
    call = answer.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert upstream.last().body["tools"] == tools
    assert upstream.last().body["parallel_tool_calls"] is False


def test_chat_stream(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-echo", messages=[{"role": "user", "content": "one two three"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    # The gateway asks for usage upstream for its accounting, and hides it from this caller.
    assert upstream.last().body["stream_options"] == {"include_usage": True}


def test_chat_stream_include_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-echo",
            messages=[{"role": "user", "content": "one two"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == 2 and last.usage.prompt_tokens == 2


def test_chat_stream_n_and_logprobs(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-echo",
            messages=[{"role": "user", "content": "x y"}],
            stream=True,
            n=2,
            logprobs=True,
            top_logprobs=1,
        )
    )
    by_choice: dict[int, str] = {0: "", 1: ""}
    for chunk in chunks:
        for choice in chunk.choices:
            by_choice[choice.index] += choice.delta.content or ""
    assert by_choice == {0: "x y", 1: "x y"}
    with_logprobs = [c for c in chunks if c.choices and c.choices[0].logprobs]
    assert with_logprobs[0].choices[0].logprobs.content[0].token == "x "  # type: ignore[union-attr,index]


def test_chat_stream_tool_call_deltas(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {}}}]
    stream = client.chat.completions.create(
        model="gpt-echo",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,
        stream=True,
    )
    arguments, names, pieces = "", [], 0
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                assert call.index == 0
                if call.function and call.function.name:
                    names.append(call.function.name)
                if call.function and call.function.arguments:
                    arguments += call.function.arguments
                    pieces += 1
            finish = choice.finish_reason or finish
    assert names == ["weather"] and pieces == 3
    assert json.loads(arguments) == {"city": "Paris"}
    assert finish == "tool_calls"


def test_completion(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    answer = client.completions.create(
        model="gpt-echo", prompt="say this is a test", max_tokens=3, suffix="!", best_of=1
    )
    assert answer.object == "text_completion"
    assert answer.choices[0].text == "say this is "
    assert answer.choices[0].finish_reason == "length"
    assert upstream.last().path == "/v1/completions"
    assert upstream.last().body["suffix"] == "!"


def test_completion_prompt_shapes(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    for prompt in (["a b", "c"], [1, 2, 3], [[1, 2], [3]]):
        client.completions.create(model="gpt-echo", prompt=prompt)  # type: ignore[arg-type]
        assert upstream.last().body["prompt"] == prompt


def test_completion_echo_logprobs_stop(client: openai.OpenAI) -> None:
    answer = client.completions.create(
        model="gpt-echo", prompt="one two three", echo=True, logprobs=2, stop="three", n=2
    )
    assert len(answer.choices) == 2
    choice = answer.choices[0]
    assert choice.text == "one two three" + "one two "
    assert choice.logprobs is not None
    assert choice.logprobs.tokens == ["one ", "two "]
    assert choice.logprobs.text_offset == [0, 4]
    assert choice.logprobs.top_logprobs == [{"one ": -0.5, "x": -2.0}, {"two ": -0.5, "x": -2.0}]


def test_completion_stream_with_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.completions.create(
            model="gpt-echo", prompt="p q r", stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "p q r"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_completion_with_messages_is_served_as_chat(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    answer = client.completions.create(
        model="gpt-echo",
        prompt=None,  # type: ignore[arg-type]
        extra_body={"messages": [{"role": "user", "content": "via chat"}]},
    )
    assert answer.object == "text_completion"
    assert answer.choices[0].text == "via chat"
    assert upstream.last().path == "/v1/chat/completions"
    streamed = list(
        client.completions.create(
            model="gpt-echo",
            prompt=None,
            stream=True,  # type: ignore[arg-type]
            extra_body={"messages": [{"role": "user", "content": "a b"}]},
        )
    )
    assert all(c.object == "text_completion" for c in streamed)
    assert "".join(c.choices[0].text for c in streamed) == "a b"


def test_unknown_fields_pass_through(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    client.chat.completions.create(
        model="gpt-echo",
        messages=[{"role": "user", "content": "x"}],
        extra_body={"top_k": 5, "repetition_penalty": 1.1},
    )
    assert upstream.last().body["top_k"] == 5
    assert upstream.last().body["repetition_penalty"] == 1.1


def test_models(client: openai.OpenAI) -> None:
    models = client.models.list()
    ids = [m.id for m in models.data]
    assert "gpt-echo" in ids and "org/model-with-slash" in ids
    one = client.models.retrieve("org/model-with-slash")
    assert (one.id, one.object, one.owned_by, one.created) == (
        "org/model-with-slash",
        "model",
        "org",
        1700000000,
    )


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 5}, "temperature"),
        ({"n": 0}, "n"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"messages": []}, "messages"),
        ({"top_logprobs": 99}, "top_logprobs"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ],
)
def test_invalid_chat_parameters_are_400(
    client: openai.OpenAI, upstream: ScriptedUpstream, kwargs: dict[str, object], param: str
) -> None:
    upstream.clear()
    request: dict[str, object] = {
        "model": "gpt-echo",
        "messages": [{"role": "user", "content": "x"}],
        **kwargs,
    }
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**request)  # type: ignore[call-overload]
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == param  # type: ignore[index]
    assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert upstream.requests == []  # rejected before any upstream call


def test_wrong_key_is_401(stack: Stack) -> None:
    bad = openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key="sk-wrong-key-000", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.models.list()
    assert caught.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    assert "sk-wrong" not in caught.value.message


def test_model_not_allowed_for_key_is_403(stack: Stack) -> None:
    limited = openai.OpenAI(base_url=f"{stack.rest_url}/v1", api_key=OTHER_KEY, max_retries=0)
    assert sorted(m.id for m in limited.models.list().data) == ["gpt-echo", "org/model-with-slash"]
    with pytest.raises(openai.PermissionDeniedError) as caught:
        limited.chat.completions.create(
            model="gpt-paced", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body["code"] == "model_not_allowed"  # type: ignore[index]
    assert caught.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.PermissionDeniedError):
        limited.models.retrieve("gpt-paced")
    assert limited.models.retrieve("org/model-with-slash").owned_by == "org"


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["code"] == "model_not_found"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


@pytest.mark.parametrize(
    ("model", "error", "status", "code"),
    [
        ("gpt-rate-limited", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("gpt-bad-request", openai.BadRequestError, 400, "context_length_exceeded"),
        ("gpt-server-error", openai.APIStatusError, 502, "upstream_error"),
        ("gpt-unavailable", openai.APIStatusError, 503, "upstream_unavailable"),
        ("gpt-hang", openai.APIStatusError, 504, "upstream_timeout"),
        ("gpt-unauthorized", openai.APIStatusError, 502, "upstream_auth_failed"),
        ("gpt-down", openai.APIStatusError, 502, "upstream_unreachable"),
        ("gpt-garbage", openai.APIStatusError, 502, "upstream_malformed_answer"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_are_mapped(
    client: openai.OpenAI,
    model: str,
    error: type[openai.APIStatusError],
    status: int,
    code: str,
    stream: bool,
) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], stream=stream
        )
    assert caught.value.status_code == status
    assert caught.value.body["code"] == code  # type: ignore[index]
    assert "/srv/" not in caught.value.message and "sk-up" not in caught.value.message
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "7"


def test_midstream_failure_raises_in_sdk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-fail-midstream", messages=[{"role": "user", "content": "a b c d"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 2
    assert "ended before it was complete" in caught.value.message
