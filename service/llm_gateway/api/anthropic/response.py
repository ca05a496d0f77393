"""A canonical (OpenAI) chat completion as an Anthropic `message`, and errors in Anthropic's
shape."""

from __future__ import annotations

from typing import Any

from llm_gateway.errors import GatewayError
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import AnswerMessage, ChatCompletion, Choice, CompletionUsage
from llm_gateway.model.tool_calls import arguments_or_empty

# OpenAI `finish_reason` → Anthropic `stop_reason`.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
# HTTP status → Anthropic's error `type`.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def error_body(error: GatewayError) -> dict[str, Any]:
    """Anthropic's error object: `{"type": "error", "error": {"type", "message"}}`."""
    kind = ERROR_TYPES.get(
        error.status, "api_error" if error.status >= 500 else "invalid_request_error"
    )
    return {"type": "error", "error": {"type": kind, "message": error.message}}


def usage(canonical: CompletionUsage | None) -> dict[str, Any]:
    """OpenAI's usage in Anthropic's terms, where input tokens exclude cached ones."""
    canonical = canonical or {}
    details = canonical.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or 0
    written = details.get("cache_creation_tokens") or 0
    return {
        "input_tokens": max(0, (canonical.get("prompt_tokens") or 0) - cached - written),
        "output_tokens": canonical.get("completion_tokens") or 0,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    }


def message(answer: ChatCompletion) -> dict[str, Any]:
    """Returns the Anthropic `message` for a `chat.completion` (its first choice: this API
    has one)."""
    choices = answer.get("choices") or ()
    choice: Choice | None = choices[0] if choices else None
    source: AnswerMessage = (choice.get("message") if choice is not None else None) or {
        "role": "assistant",
        "content": None,
    }
    content: list[dict[str, Any]] = []
    signature = source.get("reasoning_signature")
    if source.get("reasoning_content") or signature:
        # The signature is the gateway's, carrying the upstream's own (if it gave one) back
        # with the caller's next turn.
        thinking = source.get("reasoning_content") or ""
        content.append(
            {"type": "thinking", "thinking": thinking, "signature": reasoning.minted(signature)}
        )
    if text := source.get("content"):
        content.append({"type": "text", "text": text})
    for call in source.get("tool_calls") or ():
        function = call.get("function")
        if function is None:  # another kind of OpenAI call: Anthropic's API has none
            continue
        content.append(
            {
                "type": "tool_use",
                "id": call["id"],
                "name": function["name"],
                "input": arguments_or_empty(function["arguments"]),
            }
        )
    finish = choice.get("finish_reason") if choice is not None else None
    return {
        "id": answer.get("id"),
        "type": "message",
        "role": "assistant",
        "model": answer.get("model"),
        "content": content,
        "stop_reason": STOP_REASONS.get(finish or "", "end_turn"),
        "stop_sequence": None,
        "usage": usage(answer.get("usage")),
    }
