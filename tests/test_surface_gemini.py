"""Gemini callers: the Google GenAI SDK pointed at the gateway's `/v1beta/models/...` paths,
served by OpenAI-compatible, Gemini and Anthropic upstreams."""

from __future__ import annotations

import json
import time

import pytest
import requests
from google import genai
from google.genai import errors, types

from llm_gateway.api.gemini.dialect import SSE as GEMINI
from llm_gateway.errors import GatewayError
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack
from tests.test_cancellation import log_entry

MODELS = ["gpt-echo", "gemini-echo", "claude-echo"]


@pytest.fixture
def gemini(stack: Stack) -> genai.Client:
    options = types.HttpOptions(base_url=stack.rest_url, api_version="v1beta")
    return genai.Client(api_key=KEY, http_options=options)


def get_weather(city: str) -> str:
    """Weather in a city."""
    return "sunny"


@pytest.mark.parametrize("model", MODELS)
def test_generate_content(gemini: genai.Client, upstream: ScriptedUpstream, model: str) -> None:
    answer = gemini.models.generate_content(
        model=model,
        contents="hello big world",
        config=types.GenerateContentConfig(
            system_instruction="Be brief.",
            temperature=0.5,
            stop_sequences=["NEVER"],
            max_output_tokens=50,
        ),
    )
    assert answer.text == "hello big world"
    assert (
        answer.candidates is not None
        and answer.candidates[0].finish_reason == types.FinishReason.STOP
    )
    assert answer.usage_metadata is not None and answer.usage_metadata.candidates_token_count == 3
    sent = upstream.last().body
    if model == "gpt-echo":
        assert sent["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello big world"},
        ]
        assert (sent["temperature"], sent["stop"], sent["max_completion_tokens"]) == (
            0.5,
            ["NEVER"],
            50,
        )
    elif model == "gemini-echo":
        # Passed through: the body as the SDK wrote it.
        assert sent["systemInstruction"]["parts"] == [{"text": "Be brief."}]
        assert sent["generationConfig"]["stopSequences"] == ["NEVER"]


@pytest.mark.parametrize("model", MODELS)
def test_stream(gemini: genai.Client, model: str) -> None:
    chunks = list(gemini.models.generate_content_stream(model=model, contents="one two three"))
    assert "".join(c.text or "" for c in chunks) == "one two three"
    assert len([c for c in chunks if c.text]) == 3  # streamed, not buffered
    last = chunks[-1]
    assert (
        last.candidates is not None and last.candidates[0].finish_reason == types.FinishReason.STOP
    )
    assert last.usage_metadata is not None and last.usage_metadata.candidates_token_count == 3


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_function_call(
    gemini: genai.Client, upstream: ScriptedUpstream, model: str, stream: bool
) -> None:
    config = types.GenerateContentConfig(
        tools=[get_weather],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(
                mode=types.FunctionCallingConfigMode.ANY
            )
        ),
    )
    if stream:
        chunks = list(
            gemini.models.generate_content_stream(model=model, contents="weather?", config=config)
        )
        calls = [call for c in chunks for call in c.function_calls or ()]
    else:
        calls = (
            gemini.models.generate_content(
                model=model, contents="weather?", config=config
            ).function_calls
            or []
        )
    assert len(calls) == 1  # a call streamed in pieces upstream arrives whole
    assert calls[0].name == "get_weather"
    assert calls[0].args is not None and calls[0].args["city"] == "Paris"
    sent = upstream.last().body
    if model == "gpt-echo":
        function = sent["tools"][0]["function"]
        assert function["parameters"]["properties"]["city"]["type"] == "string"
        assert sent["tool_choice"] == "required"


@pytest.mark.parametrize("model", ["gpt-echo", "gemini-echo"])
def test_the_one_allowed_function_is_called(
    gemini: genai.Client, upstream: ScriptedUpstream, model: str
) -> None:
    def get_time(city: str) -> str:
        """Time in a city."""
        return "noon"

    config = types.GenerateContentConfig(
        tools=[get_weather, get_time],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(
                mode=types.FunctionCallingConfigMode.ANY, allowed_function_names=["get_time"]
            )
        ),
    )
    answer = gemini.models.generate_content(model=model, contents="time?", config=config)
    assert [call.name for call in answer.function_calls or ()] == ["get_time"]
    sent = upstream.last().body
    if model == "gpt-echo":
        assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    else:
        calling = {"mode": "ANY", "allowedFunctionNames": ["get_time"]}
        assert sent["toolConfig"] == {"functionCallingConfig": calling}


@pytest.mark.parametrize("model", ["gpt-echo", "gemini-echo"])
def test_function_response_turn(
    gemini: genai.Client, upstream: ScriptedUpstream, model: str
) -> None:
    contents = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        types.Content(
            role="model",
            parts=[
                types.Part(
                    function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"})
                )
            ],
        ),
        types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        name="get_weather", response={"sky": "clear"}
                    )
                )
            ],
        ),
    ]
    config = types.GenerateContentConfig(
        tools=[get_weather],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        tool_config=types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(
                mode=types.FunctionCallingConfigMode.NONE
            )
        ),
    )
    answer = gemini.models.generate_content(model=model, contents=contents, config=config)
    if model == "gemini-echo":  # its double answers a function response with what it got
        assert answer.text == 'result: {"sky": "clear"}'
    sent = upstream.last().body
    if model == "gpt-echo":
        call = sent["messages"][1]["tool_calls"][0]
        assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
        assert sent["messages"][2] == {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": '{"sky":"clear"}',
        }


def test_candidate_count_and_json_output(gemini: genai.Client, upstream: ScriptedUpstream) -> None:
    answer = gemini.models.generate_content(
        model="gpt-echo", contents="a b", config=types.GenerateContentConfig(candidate_count=2)
    )
    assert answer.candidates is not None and len(answer.candidates) == 2
    assert upstream.last().body["n"] == 2
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    answer = gemini.models.generate_content(
        model="gemini-echo",
        contents="hi",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_json_schema=schema
        ),
    )
    assert json.loads(answer.text or "") == {"answer": "hi"}
    config = upstream.last().body["generationConfig"]
    assert (
        config["responseMimeType"] == "application/json" and config["responseJsonSchema"] == schema
    )
    gemini.models.generate_content(
        model="gpt-echo",
        contents="hi",
        config=types.GenerateContentConfig(
            response_mime_type="application/json",
            response_schema=types.Schema(
                type=types.Type.OBJECT, properties={"a": types.Schema(type=types.Type.STRING)}
            ),
        ),
    )
    response_format = upstream.last().body["response_format"]
    assert response_format["json_schema"]["schema"] == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
    }


def test_errors_in_google_shape(stack: Stack, gemini: genai.Client) -> None:
    wrong = genai.Client(
        api_key="wrong-key-123",
        http_options=types.HttpOptions(base_url=stack.rest_url, api_version="v1beta"),
    )
    with pytest.raises(errors.ClientError) as unauthorized:
        wrong.models.generate_content(model="gpt-echo", contents="x")
    assert unauthorized.value.code == 401 and unauthorized.value.status == "UNAUTHENTICATED"
    with pytest.raises(errors.ClientError) as missing:
        gemini.models.generate_content(model="nope", contents="x")
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
    # Passed through as Gemini answers it: a 200 whose prompt feedback says why.
    blocked = gemini.models.generate_content(model="gemini-safety-block", contents="x")
    assert blocked.prompt_feedback is not None and not blocked.candidates
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    with pytest.raises(errors.ClientError) as limited:
        gemini.models.generate_content(model="gemini-rate-limited", contents="x")
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(errors.ClientError) as invalid:
        gemini.models.generate_content(
            model="gpt-echo", contents="x", config=types.GenerateContentConfig(temperature=3)
        )
    assert invalid.value.code == 400 and invalid.value.status == "INVALID_ARGUMENT"
    assert "generationConfig.temperature" in (invalid.value.message or "")


@pytest.mark.parametrize("model", ["gemini-error-in-stream", "claude-error-in-stream"])
def test_midstream_error_ends_the_stream_with_an_error(gemini: genai.Client, model: str) -> None:
    texts = []
    with pytest.raises(errors.APIError):
        for chunk in gemini.models.generate_content_stream(model=model, contents="one two three"):
            texts.append(chunk.text)
    assert texts[0] == "one "


def test_key_query_parameter_and_json_array_stream(stack: Stack) -> None:
    url = f"{stack.rest_url}/v1beta/models/gpt-echo:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "a b"}]}]}
    response = requests.post(url, params={"key": KEY}, json=body, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    answers = response.json()  # without alt=sse: one JSON array of responses
    assert (
        "".join(
            p["text"]
            for a in answers
            for c in a["candidates"]
            for p in c["content"]["parts"]
            if "text" in p
        )
        == "a b"
    )
    assert answers[-1]["usageMetadata"]["candidatesTokenCount"] == 2
    refused = requests.post(url, params={"key": "nope-nope-nope"}, json=body, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["status"] == "UNAUTHENTICATED"


def test_json_array_stream_arrives_as_it_is_generated(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    # gpt-slow streams for 10 s: the array's first answer must come long before its end (a
    # proxy that holds whole JSON answers to set their headers must not hold this one).
    url = f"{stack.rest_url}/v1beta/models/gpt-slow:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "go"}]}]}
    headers = {"x-goog-api-key": KEY, "x-request-id": "gemini-array-early"}
    with requests.post(url, json=body, headers=headers, stream=True, timeout=4) as response:
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["x-llm-gateway-deployment"] == "scripted/slow"
        assert "x-llm-gateway-stream" not in response.headers  # the proxy's own marker
        first = next(response.iter_content(chunk_size=None))
        assert first.startswith(b"[")
    assert not upstream.wait_closed("gemini-array-early").completed


def test_cancelled_stream_closes_the_upstream(stack: Stack, upstream: ScriptedUpstream) -> None:
    options = types.HttpOptions(
        base_url=stack.rest_url, api_version="v1beta", headers={"x-request-id": "gemini-cancel-1"}
    )
    client = genai.Client(api_key=KEY, http_options=options)
    stream = client.models.generate_content_stream(model="gpt-slow", contents="go")
    for index, _ in enumerate(stream):
        if index == 3:
            break
    stream.close()
    closed = time.monotonic()
    recorded = upstream.wait_closed("gemini-cancel-1")
    assert not recorded.completed
    assert recorded.closed_at is not None and recorded.closed_at - closed < 1.0
    assert log_entry(stack, "gemini-cancel-1")["status"] == 499


def test_proxy_refusals_in_google_shape(stack: Stack) -> None:
    base = f"{stack.rest_url}/v1beta/models/gpt-echo"
    headers = {"x-goog-api-key": KEY}
    wrong_method = requests.get(f"{base}:generateContent", headers=headers, timeout=5)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == 405
    unknown = requests.post(f"{base}:predict", headers=headers, json={}, timeout=5)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": 404,
        "message": "Unknown request URL: POST /v1beta/models/gpt-echo:predict.",
        "status": "NOT_FOUND",
    }
    too_large = requests.post(
        f"{base}:generateContent",
        headers=headers,
        data=b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}',
        timeout=10,
    )
    assert too_large.status_code == 413
    # Envoy's reply, written by the dialect that writes the gateway's own 413s.
    own = GEMINI.error(
        GatewayError(413, "The request body is too large.", code="request_too_large")
    )
    assert too_large.json() == json.loads(own)


def test_malformed_json_is_a_400_in_google_shape(stack: Stack) -> None:
    response = requests.post(
        f"{stack.rest_url}/v1beta/models/gpt-echo:generateContent",
        headers={"x-goog-api-key": KEY, "content-type": "application/json"},
        data=b'{"contents": [',
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": 400,
        "message": "Invalid JSON payload received.",
        "status": "INVALID_ARGUMENT",
    }
