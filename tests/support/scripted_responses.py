"""A test double of OpenAI's Responses API (`POST /v1/responses`), for a provider with
`responses_api: native`.

It checks a request as OpenAI would: the body against the API's schema; and, since it keeps
no state (every request the gateway sends it has `store: false`), `previous_response_id`,
`conversation` and `item_reference` are refused as OpenAI refuses ids it does not hold, and
so is a reasoning item whose `encrypted_content` it did not seal. `/responses/input_tokens`
counts the input's words, refusing members it does not take; `/responses/compact` answers one
sealed compaction item (and refuses a compaction it did not seal). The `echo` model answers
with the last user message; given tools, and a last item that is not a function call's
output, it calls the first function with `{"city": "Paris"}`. With `include:
["reasoning.encrypted_content"]` a reasoning item comes first. Streams are the API's
semantic events. Usage counts words.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import fastjsonschema
from aiohttp import web

from llm_gateway.model.validators import responses as schema

SEALED = "openai-sealed:"
_ids = itertools.count(1)


def _error(status: int, message: str, param: str | None, code: str | None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param}}
    body["error"]["code"] = code
    return web.json_response(body, status=status)


def refusal(body: dict[str, Any]) -> web.Response | None:
    """What OpenAI would answer with an error, if anything."""
    try:
        schema.validate(body)
    except fastjsonschema.JsonSchemaValueException as exc:
        return _error(400, f"Invalid request: {exc.message}", exc.name, "invalid_value")
    if body.get("previous_response_id"):
        message = f"Previous response with id '{body['previous_response_id']}' not found."
        return _error(400, message, "previous_response_id", "previous_response_not_found")
    if body.get("conversation"):
        return _error(404, "Conversation not found.", "conversation", None)
    items = body["input"] if isinstance(body.get("input"), list) else []
    for index, item in enumerate(items):
        if item.get("type") == "item_reference":
            message = f"Item with id '{item.get('id')}' not found."
            return _error(404, message, f"input[{index}]", None)
        sealed = str(item.get("encrypted_content") or "")
        if item.get("type") in ("reasoning", "compaction") and not sealed.startswith(SEALED):
            return _error(400, "The encrypted content could not be verified.", None, None)
    return None


def _last_user_text(body: dict[str, Any]) -> str:
    given = body.get("input")
    if isinstance(given, str):
        return given
    for item in reversed(given or []):
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(part.get("text", "") for part in content)
    return "ok"


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The `response` object the echo model makes."""
    number = next(_ids)
    output: list[dict[str, Any]] = []
    if "reasoning.encrypted_content" in (body.get("include") or ()):
        output.append(
            {
                "id": f"rs_{number:048x}",
                "type": "reasoning",
                "summary": [],
                "encrypted_content": f"{SEALED}{number}",
            }
        )
    tools = [tool for tool in body.get("tools") or () if tool.get("type") == "function"]
    items = body["input"] if isinstance(body["input"], list) else []
    answered = bool(items) and items[-1].get("type") == "function_call_output"
    text = _last_user_text(body)
    if tools and not answered:
        output.append(
            {
                "id": f"fc_{number:048x}",
                "type": "function_call",
                "status": "completed",
                "call_id": f"call_{number}",
                "name": tools[0]["name"],
                "arguments": '{"city": "Paris"}',
            }
        )
    else:
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        output.append(
            {
                "id": f"msg_{number:048x}",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [part],
            }
        )
    words = len(json.dumps(body.get("input")).split())
    produced = len(text.split())
    return {
        "id": f"resp_{number:048x}",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": body["model"],
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "store": body.get("store", True),
        "temperature": 1.0,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": 1.0,
        "metadata": body.get("metadata") or {},
        "usage": {
            "input_tokens": words,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": produced,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": words + produced,
        },
    }


def events(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The response's stream, as OpenAI sends it."""
    # OpenAI sends `"usage": null` here; the spec's schema wants an object or nothing.
    opening = {k: v for k, v in response.items() if k != "usage"}
    opening |= {"status": "in_progress", "output": []}
    out: list[dict[str, Any]] = [
        {"type": "response.created", "response": opening},
        {"type": "response.in_progress", "response": opening},
    ]
    for index, item in enumerate(response["output"]):
        place = {"output_index": index}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            empty = {**item, "status": "in_progress", "content": []}
            at = {"item_id": item["id"], **place, "content_index": 0}
            out.append({"type": "response.output_item.added", **place, "item": empty})
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out.append({"type": "response.content_part.added", **at, "part": part})
            for number, word in enumerate(text.split(" ")):
                delta = {"delta": (" " if number else "") + word, "logprobs": []}
                out.append({"type": "response.output_text.delta", **at, **delta})
            done = {"text": text, "logprobs": []}
            out.append({"type": "response.output_text.done", **at, **done})
            out.append({"type": "response.content_part.done", **at, "part": item["content"][0]})
        else:
            out.append({"type": "response.output_item.added", **place, "item": item})
        out.append({"type": "response.output_item.done", **place, "item": item})
    out.append({"type": "response.completed", "response": response})
    return [{**event, "sequence_number": n} for n, event in enumerate(out)]


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


# What OpenAI's `/responses/input_tokens` takes.
COUNTED = frozenset(
    (
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "text",
        "reasoning",
        "truncation",
        "previous_response_id",
        "conversation",
    )
)


def count(body: dict[str, Any]) -> web.Response:
    """`/responses/input_tokens`: a word count of the input, refusing unknown parameters."""
    unknown = sorted(set(body) - COUNTED)
    if unknown:
        message = f"Unknown parameter: '{unknown[0]}'."
        return _error(400, message, unknown[0], "unknown_parameter")
    refused = refusal({**body, "model": body.get("model", "")})
    if refused is not None:
        return refused
    words = len(json.dumps(body.get("input")).split())
    return web.json_response({"object": "response.input_tokens", "input_tokens": words})


def compact(body: dict[str, Any]) -> web.Response:
    """`/responses/compact`: one sealed compaction item for the whole input."""
    refused = refusal(body)
    if refused is not None:
        return refused
    number = next(_ids)
    item = {
        "id": f"cmp_{number:048x}",
        "type": "compaction",
        "encrypted_content": f"{SEALED}{number}",
    }
    words = len(json.dumps(body.get("input")).split())
    usage = {
        "input_tokens": words,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 1,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": words + 1,
    }
    return web.json_response(
        {
            "id": f"resp_{number:048x}",
            "object": "response.compaction",
            "created_at": 1_700_000_000,
            "output": [item],
            "usage": usage,
        }
    )
