"""The fidelity matrix: every REST surface x every provider family x feature, sent through
the real stack, each outcome classified from what the gateway did (passed through,
translated, translated with fields dropped and reported, or refused with a 400).

`docs/fidelity.md` is this test's output: the test fails when the page and the observed
matrix differ, and `make fidelity` writes the page anew (`FIDELITY_WRITE=1`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.stack import KEY, Stack
from tests.test_cancellation import log_entry

PAGE = Path(__file__).resolve().parent.parent / "docs" / "fidelity.md"
PROVIDERS = {"OpenAI-compatible": "gpt-echo", "Anthropic": "claude-echo", "Gemini": "gemini-echo"}
TOOL = {"name": "get_weather", "description": "Weather in a city"}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
Request = dict[str, Any]


def _openai(feature: str) -> Request:
    body: Request = {"messages": [{"role": "user", "content": "hello there"}]}
    tools = [{"type": "function", "function": {**TOOL, "parameters": SCHEMA}}]
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    extra: dict[str, Request] = {
        "text": {},
        "streaming": {"stream": True, "stream_options": {"include_usage": True}},
        "tool calls": {"tools": tools},
        "tool results": {
            "tools": tools,
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
        },
        "JSON output": {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "w", "schema": SCHEMA},
            }
        },
        "stop sequences": {"stop": ["END"]},
        "several choices": {"n": 2},
        "logprobs": {"logprobs": True, "top_logprobs": 2},
        "reasoning": {"reasoning_effort": "low"},
        "prompt caching": {"prompt_cache_key": "k1"},
    }
    return {**body, **extra[feature]}


def _anthropic(feature: str) -> Request:
    body: Request = {"max_tokens": 64, "messages": [{"role": "user", "content": "hello there"}]}
    tools = [{**TOOL, "input_schema": SCHEMA}]
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
    marked = {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}
    extra: dict[str, Request | None] = {
        "text": {},
        "streaming": {"stream": True},
        "tool calls": {"tools": tools},
        "tool results": {
            "tools": tools,
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": [use]},
                {"role": "user", "content": [result]},
            ],
        },
        "JSON output": {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
        "stop sequences": {"stop_sequences": ["END"]},
        "several choices": None,  # the Messages API has no such field
        "logprobs": None,
        "reasoning": {"max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        "prompt caching": {"messages": [{"role": "user", "content": [marked]}]},
    }
    chosen = extra[feature]
    return {} if chosen is None else {**body, **chosen}


def _gemini(feature: str) -> Request:
    body: Request = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}
    tools = [{"functionDeclarations": [{**TOOL, "parametersJsonSchema": SCHEMA}]}]
    call = {"functionCall": {"name": "get_weather", "args": {}, "id": "fc_1"}}
    answer = {"functionResponse": {"name": "get_weather", "id": "fc_1", "response": {"ok": 1}}}
    extra: dict[str, Request] = {
        "text": {},
        "streaming": {},
        "tool calls": {"tools": tools},
        "tool results": {
            "tools": tools,
            "contents": [
                {"role": "user", "parts": [{"text": "weather?"}]},
                {"role": "model", "parts": [call]},
                {"role": "user", "parts": [answer]},
            ],
        },
        "JSON output": {
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseJsonSchema": SCHEMA,
            }
        },
        "stop sequences": {"generationConfig": {"stopSequences": ["END"]}},
        "several choices": {"generationConfig": {"candidateCount": 2}},
        "logprobs": {"generationConfig": {"responseLogprobs": True, "logprobs": 2}},
        "reasoning": {"generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}},
        "prompt caching": {"cachedContent": "cachedContents/c1"},
    }
    return {**body, **extra[feature]}


def _send_openai(stack: Stack, model: str, body: Request, request_id: str) -> requests.Response:
    headers = {"authorization": f"Bearer {KEY}", "x-request-id": request_id}
    url = f"{stack.rest_url}/v1/chat/completions"
    return requests.post(url, json={**body, "model": model}, headers=headers, timeout=20)


def _send_anthropic(stack: Stack, model: str, body: Request, request_id: str) -> requests.Response:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01", "x-request-id": request_id}
    url = f"{stack.rest_url}/v1/messages"
    return requests.post(url, json={**body, "model": model}, headers=headers, timeout=20)


def _send_gemini(stack: Stack, model: str, body: Request, request_id: str) -> requests.Response:
    method = (
        "streamGenerateContent?alt=sse" if request_id.endswith("streaming") else "generateContent"
    )
    headers = {"x-goog-api-key": KEY, "x-request-id": request_id}
    url = f"{stack.rest_url}/v1beta/models/{model}:{method}"
    return requests.post(url, json=body, headers=headers, timeout=20)


Sender = Callable[[Stack, str, Request, str], requests.Response]
SURFACES: dict[str, tuple[Callable[[str], Request], Sender]] = {
    "OpenAI `/v1/chat/completions`": (_openai, _send_openai),
    "Anthropic `/v1/messages`": (_anthropic, _send_anthropic),
    "Gemini `generateContent`": (_gemini, _send_gemini),
}
FEATURES = (
    "text",
    "streaming",
    "tool calls",
    "tool results",
    "JSON output",
    "stop sequences",
    "several choices",
    "logprobs",
    "reasoning",
    "prompt caching",
)


def _outcome(stack: Stack, response: requests.Response, request_id: str) -> str:
    if response.status_code >= 400:
        return f"refused (400): {_error_message(response)}"
    entry = log_entry(stack, request_id)
    if entry["passthrough"]:
        return "passthrough"
    dropped = response.headers.get("x-llm-gateway-dropped")
    return f"translated, dropped: `{dropped}`" if dropped else "translated"


def _error_message(response: requests.Response) -> str:
    body = response.json()
    error = body.get("error", {})
    return str(error.get("message", "")).replace("|", "/")[:90]


def observed(stack: Stack) -> str:
    lines = [
        "# Fidelity matrix",
        "",
        "What happens to each feature of each REST surface on each provider family, as the",
        "real stack does it (`tests/test_fidelity.py` sends every cell and classifies what the",
        "gateway did; it fails when this page and the gateway differ, and `make fidelity`",
        "writes the page anew). *passthrough*: the caller's request goes upstream as sent and",
        "the answer comes back as the upstream sent it; *translated*: through the canonical",
        "model; *dropped*: translated, with the caller's fields that cannot cross named in",
        "`x-llm-gateway-dropped` (with `untranslatable_fields: refuse` they are a 400);",
        "*refused*: a 400 naming the field. Errors are mapped per provider (see the README).",
        "",
    ]
    for surface, (build, send) in SURFACES.items():
        lines += [f"## {surface}", "", "| feature | " + " | ".join(PROVIDERS) + " |"]
        lines.append("|---" * (len(PROVIDERS) + 1) + "|")
        for feature in FEATURES:
            cells = []
            for provider, model in PROVIDERS.items():
                body = build(feature)
                if not body:
                    cells.append("not in this API")
                    continue
                request_id = f"fidelity-{surface[:6]}-{provider[:6]}-{feature}".replace(" ", "-")
                response = send(stack, model, body, request_id)
                cells.append(_outcome(stack, response, request_id))
            lines.append(f"| {feature} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def test_the_fidelity_matrix_is_what_the_gateway_does(stack: Stack) -> None:
    matrix = observed(stack)
    if os.environ.get("FIDELITY_WRITE"):
        PAGE.write_text(matrix)
    if not PAGE.exists():
        pytest.fail("docs/fidelity.md is missing: run `make fidelity`")
    assert PAGE.read_text() == matrix, "docs/fidelity.md is out of date: run `make fidelity`"
    assert json.dumps(matrix).count("passthrough") >= 3 * len(FEATURES) - 4
