"""Canonical (OpenAI) tool calls, and their arguments as the objects other APIs use.

OpenAI carries a call's arguments as a JSON string; Anthropic and Gemini as an object. Every
translation, on either side of the canonical model, converts with these.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.errors import invalid_request
from llm_gateway.model.canonical import ToolCall, ToolCallDelta

# A tool result that is not a JSON object travels in Gemini's `functionResponse.response`
# (which must be an object) as `{"content": text}`, and is unwrapped again coming back.
GEMINI_TEXT_RESULT_KEY = "content"
# The `thoughtSignature` Gemini documents for function calls in history another model made
# (thinking models refuse a turn's first call without a signature): it carries nothing.
GEMINI_FOREIGN_THOUGHT_SIGNATURE = "skip_thought_signature_validator"


def arguments_object(raw: Any, param: str) -> dict[str, Any]:
    """Parses a tool call's `arguments` string, which providers other than OpenAI take as an
    object; anything but a JSON object is a 400 naming `param`."""
    if not raw:
        return {}
    try:
        value = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise invalid_request(f"'{param}' must be a JSON object encoded as a string.", param)
    return value


def arguments_or_empty(arguments: Any) -> dict[str, Any]:
    """OpenAI's `arguments` string as the object other APIs take; an upstream's malformed
    arguments become `{}` rather than failing an answer already generated."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def arguments_text(arguments: Any) -> str:
    """A tool-call arguments object as OpenAI's JSON string."""
    return orjson.dumps(arguments if arguments is not None else {}).decode()


def tool_call(call_id: object, name: object, arguments: Any) -> ToolCall:
    """OpenAI's tool call of `name` with an arguments object (an upstream's missing id or
    name is an empty string)."""
    return {
        "id": str(call_id or ""),
        "type": "function",
        "function": {"name": str(name or ""), "arguments": arguments_text(arguments)},
    }


def whole_call_delta(call: ToolCall, index: int) -> ToolCallDelta:
    """A stream's delta that carries a whole tool call at once, as the call `index` of its
    choice."""
    function = call["function"]
    return {
        "index": index,
        "id": call["id"],
        "type": "function",
        "function": {"name": function["name"], "arguments": function["arguments"]},
    }
