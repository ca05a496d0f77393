"""The protocol core through the real stack: a caller of an upstream's own API family is passed
through (its body and headers arrive as sent, every answer byte comes back as the upstream
sent it); a caller of another family is translated, with what cannot cross named in
`x-llm-gateway-dropped` and the log line, never leaked into the other API's body; each
surface is validated by its own API's rules."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest
import requests
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.anthropic.servicer import messages_request
from llm_gateway.api.anthropic.stream import AnthropicStreamEncoder
from llm_gateway.config.settings import ModelSettings, ProviderSettings, RoutingSettings
from llm_gateway.errors import GatewayError
from llm_gateway.model import reasoning
from llm_gateway.providers.base import UpstreamCall
from llm_gateway.providers.openai import OpenAICompatibleProvider
from llm_gateway.routing import Job, Router
from tests.support import scripted_anthropic, scripted_gemini
from tests.support.scripted_upstream import ScriptedUpstream
from tests.support.stack import KEY, Stack
from tests.test_cancellation import log_entry

ANTHROPIC_HEADERS = {
    "x-api-key": KEY,
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "context-management-2025-06-27,interleaved-thinking-2025-05-14",
    "content-type": "application/json",
}
WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    "cache_control": {"type": "ephemeral"},
}


def coding_agent_turn(model: str) -> dict[str, Any]:
    """A Claude Code-like second turn: cached system prompt and tools, thinking on, the first
    turn's signed thinking block and tool call in the history, the tool's result last."""
    return {
        "model": model,
        "max_tokens": 2048,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [WEATHER],
        "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "weather in Paris?",
                        "cache_control": {"type": "ephemeral", "ttl": "5m"},
                    }
                ],
            },
            {
                "role": "assistant",
                "content": [
                    scripted_anthropic.THINKING,
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny"}],
            },
        ],
    }


def post_messages(
    stack: Stack, body: dict[str, Any], request_id: str, stream: bool = False
) -> requests.Response:
    return requests.post(
        f"{stack.rest_url}/v1/messages",
        data=json.dumps(body),
        headers={**ANTHROPIC_HEADERS, "x-request-id": request_id},
        timeout=20,
        stream=stream,
    )


def test_anthropic_to_anthropic_passes_the_body_and_betas_through(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    body = coding_agent_turn("claude-echo")
    response = post_messages(stack, body, "core-anthropic-unary")
    assert response.status_code == 200, response.text
    assert "x-llm-gateway-dropped" not in response.headers
    sent = upstream.last()
    # The caller's body, member for member and in its order, but for the upstream's model name.
    assert orjson.loads(sent.raw) == {**body, "model": "echo"}
    assert list(orjson.loads(sent.raw)) == list(body)
    assert sent.headers["anthropic-beta"] == ANTHROPIC_HEADERS["anthropic-beta"]
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["x-api-key"] == "sk-ant-upstream-secret"  # the gateway's, not the caller's
    answer = response.json()
    assert answer["content"][0] == scripted_anthropic.THINKING  # signature and all
    entry = log_entry(stack, "core-anthropic-unary")
    assert (entry["surface"], entry["endpoint"], entry["passthrough"]) == (
        "anthropic",
        "messages",
        True,
    )


def test_anthropic_stream_is_relayed_event_for_event(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    body = {**coding_agent_turn("claude-echo"), "stream": True}
    response = post_messages(stack, body, "core-anthropic-stream", stream=True)
    assert response.status_code == 200
    raw = b"".join(response.iter_content(chunk_size=None))
    # Every event the upstream sent, `ping` and `signature_delta` included, byte for byte.
    assert raw == b"".join(scripted_anthropic.stream_events({**body, "model": "echo"}))
    assert b"event: ping" in raw and b"signature_delta" in raw
    entry = log_entry(stack, "core-anthropic-stream")
    # Read from the relayed `message_start` and `message_delta` ("result: sunny": 2 words).
    assert (entry["prompt_tokens"], entry["completion_tokens"]) == (2 + 2, 2)
    assert not entry["usage_estimated"]


@pytest.mark.parametrize("model", ["gpt-echo", "gemini-echo"])
def test_anthropic_fields_never_leak_into_another_api(
    stack: Stack, upstream: ScriptedUpstream, model: str
) -> None:
    request_id = f"core-leak-{model}"
    response = post_messages(stack, coding_agent_turn(model), request_id)
    assert response.status_code == 200, response.text
    sent = upstream.last().body
    for field in ("thinking", "context_management", "cache_control", "system"):
        assert field not in sent
    assert "cache_control" not in json.dumps(sent)
    dropped = [
        "system.cache_control",
        "messages.content.cache_control",
        "messages.content.thinking",
        "tools.cache_control",
        "context_management",
    ]
    assert response.headers["x-llm-gateway-dropped"] == ", ".join(dropped)
    # The thinking budget crossed as the effort it stands for.
    if model == "gpt-echo":
        assert sent["reasoning_effort"] == "low"
    else:
        assert sent["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "LOW"}
    entry = log_entry(stack, request_id)
    assert entry["dropped"] == dropped and entry["passthrough"] is False
    assert (entry["surface"], entry["endpoint"]) == ("anthropic", "messages")


@pytest.mark.parametrize("model", ["claude-echo", "gemini-echo"])
def test_five_stop_sequences_are_anthropics_to_give(
    stack: Stack, upstream: ScriptedUpstream, model: str
) -> None:
    stops = ["s1", "s2", "s3", "s4", "s5"]
    body = {
        "model": model,
        "max_tokens": 50,
        "stop_sequences": stops,
        "messages": [{"role": "user", "content": "hello"}],
    }
    response = post_messages(stack, body, f"core-stops-{model}")
    assert response.status_code == 200, response.text
    sent = upstream.last().body
    got = sent["stop_sequences"] if model == "claude-echo" else sent["generationConfig"]
    assert got == stops or got == {"stopSequences": stops, "maxOutputTokens": 50}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", 3, "temperature: Input should be less than or equal to 1"),
        ("top_p", -0.5, "top_p: Input should be greater than or equal to 0"),
        ("max_tokens", 0, "max_tokens: Input should be greater than or equal to 1"),
        ("stop_sequences", "END", "stop_sequences: Input should be a valid list of strings"),
    ],
)
def test_anthropic_requests_are_judged_by_anthropics_rules(
    stack: Stack, field: str, value: Any, message: str
) -> None:
    body = {"model": "gpt-echo", "max_tokens": 50, "messages": [{"role": "user", "content": "x"}]}
    response = post_messages(stack, {**body, field: value}, f"core-rules-{field}")
    assert response.status_code == 400
    assert response.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
    }


def test_thinking_budget_must_be_below_max_tokens(stack: Stack) -> None:
    body = {**coding_agent_turn("claude-echo"), "max_tokens": 1024}
    response = post_messages(stack, body, "core-budget")
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("thinking.budget_tokens:")


def gemini_agent_turn() -> dict[str, Any]:
    """A Gemini CLI-like second turn: thinking on, the first turn's signed function call in
    the history, its response last."""
    call = {"name": "get_weather", "args": {"city": "Paris"}}
    return {
        "contents": [
            {"role": "user", "parts": [{"text": "weather in Paris?"}]},
            {
                "role": "model",
                "parts": [
                    scripted_gemini.THOUGHT,
                    {"functionCall": call, "thoughtSignature": scripted_gemini.SIGNATURE},
                ],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "get_weather", "response": {"ok": 1}}}],
            },
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "temperature": 0.2,
            "thinkingConfig": {"includeThoughts": True, "thinkingBudget": -1},
        },
    }


def post_gemini(
    stack: Stack, model: str, data: bytes, request_id: str, stream: bool = False
) -> requests.Response:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return requests.post(
        f"{stack.rest_url}/v1beta/models/{model}:{method}",
        data=data,
        headers={"x-goog-api-key": KEY, "x-request-id": request_id},
        timeout=20,
        stream=stream,
    )


def test_gemini_to_gemini_sends_the_callers_very_bytes(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    # Spacing and member order of the caller's own: the body is never re-encoded.
    data = json.dumps(gemini_agent_turn(), indent=1).encode()
    response = post_gemini(stack, "gemini-echo", data, "core-gemini-unary")
    assert response.status_code == 200, response.text
    assert upstream.last().raw == data
    assert "x-llm-gateway-dropped" not in response.headers
    body = gemini_agent_turn()
    expected = scripted_gemini.whole_answer(body, "echo")
    assert response.json() == expected  # thought part and signature as Gemini sent them
    assert expected["candidates"][0]["content"]["parts"][1]["thoughtSignature"]
    entry = log_entry(stack, "core-gemini-unary")
    assert (entry["surface"], entry["endpoint"]) == ("gemini", "generateContent")


def test_gemini_stream_is_relayed_event_for_event(stack: Stack) -> None:
    body = gemini_agent_turn()
    response = post_gemini(stack, "gemini-echo", orjson.dumps(body), "core-gemini-sse", True)
    assert response.status_code == 200
    raw = b"".join(response.iter_content(chunk_size=None))
    answers = scripted_gemini.stream_answers(body, "echo")
    # No re-chunking and no extra usage event: what Gemini sent, byte for byte.
    assert raw == b"".join(scripted_gemini.sse(answer) for answer in answers)
    entry = log_entry(stack, "core-gemini-sse")
    assert entry["completion_tokens"] == answers[-1]["usageMetadata"]["candidatesTokenCount"]


def test_gemini_thinking_config_crosses_to_another_family_as_a_reported_drop(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    body = copy.deepcopy(gemini_agent_turn())
    response = post_gemini(stack, "claude-echo", orjson.dumps(body), "core-gemini-cross")
    assert response.status_code == 200, response.text
    sent = upstream.last().body
    assert "thinkingConfig" not in json.dumps(sent) and "thoughtSignature" not in json.dumps(sent)
    assert response.headers["x-llm-gateway-dropped"] == (
        "contents.parts.thought, contents.parts.thoughtSignature, "
        "generationConfig.thinkingConfig.includeThoughts, "
        "generationConfig.thinkingConfig.thinkingBudget"
    )


@pytest.mark.parametrize(
    ("config", "param"),
    [
        ({"temperature": 2.5}, "generationConfig.temperature"),
        ({"candidateCount": 9}, "generationConfig.candidateCount"),
        ({"stopSequences": ["a", "b", "c", "d", "e", "f"]}, "generationConfig.stopSequences"),
        ({"thinkingConfig": {"includeThoughts": "yes"}}, "thinkingConfig.includeThoughts"),
    ],
)
def test_gemini_requests_are_judged_by_geminis_rules(
    stack: Stack, config: dict[str, Any], param: str
) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": config}
    response = post_gemini(stack, "gpt-echo", orjson.dumps(body), f"core-gemini-rules-{param}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and param in error["message"]


def test_openai_to_openai_relays_the_answer_bytes(stack: Stack, upstream: ScriptedUpstream) -> None:
    body = {
        "model": "gpt-echo",
        "messages": [{"role": "user", "content": "hello"}],
        "a_field_from_the_future": {"kept": [1, 2.5, None]},
    }
    response = requests.post(
        f"{stack.rest_url}/v1/chat/completions",
        data=json.dumps(body),
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        timeout=20,
    )
    assert response.status_code == 200
    sent = upstream.last()
    assert orjson.loads(sent.raw) == {**body, "model": "echo"}
    # The scripted upstream writes `json.dumps` spacing; re-encoding would have removed it.
    assert response.content.startswith(b'{"id": "chatcmpl-')


def test_the_refuse_policy_names_the_field_a_translation_cannot_carry() -> None:
    request = messages_request(HttpBody(data=orjson.dumps(coding_agent_turn("m"))), {})
    settings = ModelSettings.model_validate({"provider": "p", "model": "up"})
    provider = OpenAICompatibleProvider(
        "p", ProviderSettings(type="openai", base_url="http://127.0.0.1:9")
    )
    route = Router({"m": settings}, {"p": provider}, RoutingSettings()).resolve("m")
    deployment = route.deployments[0]
    served, dropped = Job(route, request, UpstreamCall("r")).canonical(deployment)
    assert served["model"] == "up" and "thinking" not in served
    assert dropped[0] == "system.cache_control"
    with pytest.raises(GatewayError) as refused:
        Job(route, request, UpstreamCall("r"), refuse_dropped=True).canonical(deployment)
    assert (refused.value.status, refused.value.param) == (400, "system.cache_control")
    assert "another API" in refused.value.message


def test_geminis_signature_comes_back_through_an_anthropic_callers_turn(
    stack: Stack, upstream: ScriptedUpstream
) -> None:
    tool = {key: value for key, value in WEATHER.items() if key != "cache_control"}
    first = {
        "model": "gemini-echo",
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [tool],
        "messages": [{"role": "user", "content": "weather in Paris?"}],
    }
    answer = post_messages(stack, first, "core-signature-1").json()
    thinking, tool_use = answer["content"][0], answer["content"][-1]
    # Gemini's signature, inside one the gateway minted (never an empty one).
    assert thinking["signature"] == reasoning.minted(f"gemini:{scripted_gemini.SIGNATURE}")
    assert tool_use["type"] == "tool_use"
    result = {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "sunny"}
    second = {
        **first,
        "messages": [
            *first["messages"],
            {"role": "assistant", "content": answer["content"]},
            {"role": "user", "content": [result]},
        ],
    }
    response = post_messages(stack, second, "core-signature-2")
    assert response.status_code == 200, response.text
    assert "x-llm-gateway-dropped" not in response.headers  # nothing was lost
    call = upstream.last().body["contents"][1]["parts"][0]
    assert call["thoughtSignature"] == scripted_gemini.SIGNATURE  # Gemini's own, not a dummy
    # The same history moved to Anthropic: the minted block is the gateway's, left out.
    moved = {**second, "model": "claude-echo"}
    del moved["thinking"]
    assert post_messages(stack, moved, "core-signature-3").status_code == 200
    assert upstream.last().body["messages"][1]["content"] == [tool_use]


def test_a_streamed_thinking_block_is_signed(stack: Stack) -> None:
    body = {
        "model": "gemini-echo",
        "max_tokens": 2048,
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "hello"}],
    }
    raw = b"".join(post_messages(stack, body, "core-signature-sse", True).iter_content(None))
    delta = {
        "type": "signature_delta",
        "signature": reasoning.minted(f"gemini:{scripted_gemini.SIGNATURE}"),
    }
    assert orjson.dumps(delta) in raw
    # Reasoning without an upstream signature still ends with one (the gateway's, empty).
    encoder = AnthropicStreamEncoder("m")
    opened = encoder.chunk({"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]})
    closed = encoder.chunk({"choices": [{"index": 0, "delta": {"content": "ok"}}]})
    unsigned = orjson.dumps({"type": "signature_delta", "signature": reasoning.minted(None)})
    assert b"thinking_delta" in opened and unsigned in closed
