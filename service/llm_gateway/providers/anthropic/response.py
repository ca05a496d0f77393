"""An Anthropic Messages API answer as a canonical (OpenAI) `chat.completion`."""

from __future__ import annotations

import time
from typing import Any

from llm_gateway.model import reasoning as reasoning_state
from llm_gateway.model.canonical import AnswerMessage, ChatCompletion, CompletionUsage, ToolCall
from llm_gateway.model.tool_calls import arguments_text, tool_call
from llm_gateway.model.wire import ApiFamily
from llm_gateway.providers.anthropic.request import JSON_TOOL

# Anthropic `stop_reason` → OpenAI `finish_reason`.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: Any, answered_json: bool) -> str | None:
    """OpenAI's finish reason; a forced JSON tool call is a plain stop to the caller."""
    if stop_reason is None:
        return None
    if answered_json and stop_reason == "tool_use":
        return "stop"
    return FINISH_REASONS.get(stop_reason, "stop")


def usage(wire: dict[str, Any]) -> CompletionUsage:
    """Anthropic's usage as OpenAI's: cached and cache-writing tokens count as prompt tokens,
    as OpenAI counts them."""
    cached = wire.get("cache_read_input_tokens") or 0
    written = wire.get("cache_creation_input_tokens") or 0
    prompt = (wire.get("input_tokens") or 0) + cached + written
    completion = wire.get("output_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "cache_creation_tokens": written},
    }


def chat_completion(wire: dict[str, Any]) -> ChatCompletion:
    """Returns the `chat.completion` for an Anthropic `message` object."""
    texts: list[str] = []
    reasoning: list[str] = []
    signatures: list[str] = []
    calls: list[ToolCall] = []
    answered_json = False
    for block in wire.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
            signatures.append(str(block.get("signature") or ""))
        elif kind == "tool_use" and block.get("name") == JSON_TOOL:
            answered_json = True
            texts.append(arguments_text(block.get("input")))
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id"), block.get("name"), block.get("input")))
    message: AnswerMessage = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if len(signatures) == 1 and signatures[0]:
        # One signed block can be rebuilt from the canonical message for the next turn
        # (several interleaved ones cannot: each signature covers its own block's text).
        message["reasoning_signature"] = reasoning_state.signed_by(
            ApiFamily.ANTHROPIC, signatures[0]
        )
    return {
        "id": str(wire.get("id") or ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(wire.get("model") or ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(wire.get("stop_reason"), answered_json),
            }
        ],
        "usage": usage(wire.get("usage") or {}),
    }
