"""OpenAI callers served by a Gemini upstream: the official `openai` SDK through Envoy, a
scripted double of the Gemini API behind the gateway."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from llm_gateway.providers.gemini import errors as gemini_errors
from llm_gateway.providers.gemini.response import StreamTranslator
from llm_gateway.providers.upstream_errors import error_from_upstream
from tests.support import scripted_gemini
from tests.support.reasoning_turns import first_tool_turn
from tests.support.scripted_upstream import ScriptedUpstream
from tests.test_upstream_anthropic import TOOLS


def test_text_and_request_translation(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    completion = client.chat.completions.create(
        model="gemini-echo",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "big world"},
        ],
        temperature=0.2,
        top_p=0.8,
        seed=3,
        presence_penalty=0.1,
        frequency_penalty=0.2,
        max_tokens=50,
        extra_body={
            "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
        },
    )
    assert completion.choices[0].message.content == "big world"
    assert completion.usage is not None and completion.usage.completion_tokens == 2
    sent = upstream.last()
    assert sent.path == "/gemini/v1beta/models/echo:generateContent"
    assert sent.headers["x-goog-api-key"] == "gemini-upstream-secret"
    assert "authorization" not in sent.headers
    assert sent.body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.body["contents"] == [
        {"role": "user", "parts": [{"text": "hello there"}]},
        {"role": "model", "parts": [{"text": "hi"}]},
        {"role": "user", "parts": [{"text": "big world"}]},
    ]
    assert sent.body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.8,
        "seed": 3,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.2,
        "maxOutputTokens": 50,
    }
    assert sent.body["safetySettings"][0]["threshold"] == "BLOCK_NONE"  # an extension, as given


def test_n_candidates_and_stream_usage(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    completion = client.chat.completions.create(
        model="gemini-echo", messages=[{"role": "user", "content": "a b"}], n=2
    )
    assert [c.message.content for c in completion.choices] == ["a b", "c1:a b"]
    assert upstream.last().body["generationConfig"]["candidateCount"] == 2
    chunks = list(
        client.chat.completions.create(
            model="gemini-echo",
            messages=[{"role": "user", "content": "a b c"}],
            n=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts = {0: "", 1: ""}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts == {0: "a b c", 1: "c1:a b c"}
    assert upstream.last().path == "/gemini/v1beta/models/echo:streamGenerateContent"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6


def test_stop_sequences_and_max_tokens(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    stopped = client.chat.completions.create(
        model="gemini-echo", messages=[{"role": "user", "content": "a b STOP c"}], stop=["STOP"]
    )
    assert stopped.choices[0].message.content == "a b "
    assert upstream.last().body["generationConfig"]["stopSequences"] == ["STOP"]
    cut = client.chat.completions.create(
        model="gemini-echo", messages=[{"role": "user", "content": "a b c d"}], max_tokens=2
    )
    assert cut.choices[0].finish_reason == "length"


@pytest.mark.parametrize("stream", [False, True])
def test_function_calls(client: openai.OpenAI, upstream: ScriptedUpstream, stream: bool) -> None:
    kwargs = {
        "model": "gemini-echo",
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": TOOLS,
        "tool_choice": "required",
    }
    if stream:
        chunks = list(client.chat.completions.create(**kwargs, stream=True))  # type: ignore[call-overload]
        calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or ()]
        assert len(calls) == 1
        call = calls[0]
        finish = [
            c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
        ]
    else:
        completion = client.chat.completions.create(**kwargs)  # type: ignore[call-overload]
        call = completion.choices[0].message.tool_calls[0]
        finish = [completion.choices[0].finish_reason]
    assert (call.id, call.function.name) == ("fc_1", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert finish == ["tool_calls"]
    sent = upstream.last().body
    assert sent["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather in a city",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                    },
                }
            ]
        }
    ]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_a_named_tool_choice_allows_only_that_function(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    second = {**TOOLS[0], "function": {**TOOLS[0]["function"], "name": "get_time"}}
    completion = client.chat.completions.create(
        model="gemini-echo",
        messages=[{"role": "user", "content": "time?"}],
        tools=[*TOOLS, second],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    calls = completion.choices[0].message.tool_calls or []
    assert [call.function.name for call in calls] == ["get_time"]  # type: ignore[union-attr]
    calling = {"mode": "ANY", "allowedFunctionNames": ["get_time"]}
    assert upstream.last().body["toolConfig"] == {"functionCallingConfig": calling}


def test_multi_turn_with_function_responses(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    completion = client.chat.completions.create(
        model="gemini-echo",
        tools=TOOLS,
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "fc_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "fc_1", "content": '{"sky": "clear"}'},
        ],
    )
    assert completion.choices[0].message.content == 'result: {"sky": "clear"}'
    contents = upstream.last().body["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}, "id": "fc_1"},
                # Made by another API's caller: Gemini's documented signature for such calls.
                "thoughtSignature": "skip_thought_signature_validator",
            }
        ],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "name": "get_weather",
                    "response": {"sky": "clear"},
                    "id": "fc_1",
                }
            }
        ],
    }


def test_json_output(client: openai.OpenAI, upstream: ScriptedUpstream) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "additionalProperties": False,
    }
    completion = client.chat.completions.create(
        model="gemini-echo",
        messages=[{"role": "user", "content": "hi"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": schema, "strict": True},
        },
    )
    assert json.loads(completion.choices[0].message.content or "") == {"answer": "hi"}
    config = upstream.last().body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema


def test_safety_block_is_a_400(client: openai.OpenAI) -> None:
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as caught:
            answer = client.chat.completions.create(
                model="gemini-safety-block",
                messages=[{"role": "user", "content": "x"}],
                stream=stream,
            )
            list(answer)  # type: ignore[call-overload]
        assert caught.value.body["code"] == "content_filter"  # type: ignore[index]
        assert "SAFETY" in caught.value.message


def test_errors_and_broken_streams(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(
            model="gemini-rate-limited", messages=[{"role": "user", "content": "x"}]
        )
    assert "exhausted" in limited.value.message
    # Read by Gemini's rules: its status word is the type, the code is the canonical one
    # (not the bare number Gemini's body carries).
    assert limited.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert limited.value.body["type"] == "RESOURCE_EXHAUSTED"  # type: ignore[index]
    for model, words in (
        ("gemini-error-in-stream", "Internal error"),
        ("gemini-fail-midstream", "ended before"),
    ):
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "one two three"}], stream=True
        )
        received = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                received.append(chunk.choices[0].delta.content)
        assert received[0] == "one "
        assert words in caught.value.message


def test_legacy_completion_and_unhonourable_fields(
    client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    completion = client.completions.create(model="gemini-echo", prompt="say this")
    assert completion.choices[0].text == "say this"
    assert upstream.last().body["contents"] == [{"role": "user", "parts": [{"text": "say this"}]}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gemini-echo", messages=[{"role": "user", "content": "x"}], logprobs=True
        )
    assert caught.value.body["param"] == "logprobs"  # type: ignore[index]


def test_text_after_a_candidates_finish_is_not_relayed() -> None:
    translator = StreamTranslator()

    def event(text: str, finish: str | None = None, index: int = 0) -> dict[str, Any]:
        candidate: dict[str, Any] = {"index": index, "content": {"parts": [{"text": text}]}}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "usageMetadata": {"promptTokenCount": 3}}

    chunks = []
    for answer in (event("Hel"), event("lo", "STOP"), event(" stray"), event(" more", "STOP")):
        chunks += translator.translate(answer)
    texts = [c["choices"][0]["delta"].get("content") for c in chunks]
    assert texts == ["Hel", "lo"]
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "stop"]
    assert translator.finished
    # A second candidate still streams after the first has finished.
    chunks = translator.translate(event("other", "STOP", index=1))
    assert chunks[0]["choices"][0]["delta"]["content"] == "other"


def test_gemini_error_bodies_are_read_by_geminis_rules() -> None:
    detail = {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": "generation_config.temperature", "description": "big"}],
    }
    body = {"error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}}
    body["error"]["details"] = [detail]
    payload = json.dumps(body).encode()
    error = error_from_upstream(400, payload, None, read=gemini_errors.error_fields)
    assert (error.status, error.type, error.param, error.code) == (
        400,
        "INVALID_ARGUMENT",
        "generation_config.temperature",
        "invalid_value",
    )
    # Whatever reads it, a bare number is never relayed as a code: the status's code is.
    assert error_from_upstream(429, payload, None).code == "rate_limit_exceeded"


@pytest.mark.parametrize("model", ["gemini-echo", "claude-echo"])
def test_a_custom_tool_call_in_history_is_a_400_naming_it(
    client: openai.OpenAI, upstream: ScriptedUpstream, model: str
) -> None:
    """OpenAI's `custom` tools have no counterpart in Anthropic's or Gemini's API: an earlier
    call of one is refused, naming it (it was a KeyError, a 500, on the way to Gemini)."""
    custom_call = {"id": "call_1", "type": "custom", "custom": {"name": "grep", "input": "x"}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=model,
            messages=[
                {"role": "user", "content": "find x"},
                {"role": "assistant", "content": None, "tool_calls": [custom_call]},  # type: ignore[list-item]
                {"role": "tool", "tool_call_id": "call_1", "content": "found"},
            ],
        )
    assert caught.value.body["param"] == "messages[1].tool_calls[0]"  # type: ignore[index]


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
def test_an_openai_caller_carries_geminis_signature_to_its_next_turn(
    client: openai.OpenAI, upstream: ScriptedUpstream, stream: bool
) -> None:
    """Gemini signs a thinking model's turn (`thoughtSignature`) and wants it back with the
    turn: an OpenAI caller gets it as the message's `reasoning_signature` (unary) or a delta's
    (streamed), and the assistant message it sends back carries it to Gemini unchanged."""
    kwargs: dict[str, Any] = {
        "model": "gemini-echo",
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": TOOLS,
        "reasoning_effort": "low",
    }
    first = first_tool_turn(client, kwargs, stream)
    assert first.reasoning["reasoning_signature"] == f"gemini:{scripted_gemini.SIGNATURE}"
    assert upstream.last().body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "LOW"}
    kwargs["messages"] += first.sent_back("sunny")
    client.chat.completions.create(**kwargs)
    sent_call = upstream.last().body["contents"][1]["parts"][0]
    assert sent_call["thoughtSignature"] == scripted_gemini.SIGNATURE  # its own, not a dummy
