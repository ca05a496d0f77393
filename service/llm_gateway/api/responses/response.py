"""The Responses API's `response` object, its output items, and its errors.

A `ResponseDraft` is made for each create call before the upstream is called: it holds the
response's id, its creation time and what the object echoes of the request, so the stream's
first event and the stored object agree. Output items are built from the canonical (OpenAI
chat) answer: the assistant's reasoning is a `reasoning` item (its text as `reasoning_text`,
the upstream's signature in `encrypted_content`, minted so that it comes back), its text or
refusal a `message`, each tool call a `function_call`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_gateway.errors import GatewayError
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import AnswerMessage, ChatCompletion, CompletionUsage

# Chat's `finish_reason` -> the `incomplete_details.reason` of a response that stopped short.
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
ENCRYPTED_REASONING = "reasoning.encrypted_content"
_UNFINISHED = ("queued", "in_progress", "cancelled")
# Members of the object the specification does not let be null: left out when not given.
_OMITTED_WHEN_UNSET = ("usage", "user", "prompt_cache_key", "safety_identifier", "conversation")


def conversation_id(given: Any) -> str | None:
    """The id of the conversation a request names (`"conv_..."` or `{"id": "conv_..."}`)."""
    if given is None:
        return None
    return given if isinstance(given, str) else str(given.get("id", ""))


def _conversation(given: str | None) -> dict[str, str] | None:
    return {"id": given} if given is not None else None


def error_fields(error: GatewayError) -> dict[str, Any]:
    """The members of an `error` event for a failure."""
    return {"code": error.code, "message": error.message, "param": error.param}


def new_id(prefix: str) -> str:
    """An id of OpenAI's form: a prefix naming the kind, then 48 hex digits."""
    return f"{prefix}_{secrets.token_hex(24)}"


def usage(canonical: CompletionUsage | None) -> dict[str, Any]:
    """Chat's usage in the Responses API's names."""
    canonical = canonical or {}
    prompt = canonical.get("prompt_tokens") or 0
    completion = canonical.get("completion_tokens") or 0
    prompt_details = canonical.get("prompt_tokens_details") or {}
    cached = prompt_details.get("cached_tokens") or 0
    written = prompt_details.get("cache_creation_tokens") or 0
    thought = (canonical.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": thought},
        "total_tokens": canonical.get("total_tokens") or prompt + completion,
    }


def error_object(error: GatewayError) -> dict[str, Any]:
    """A failed response's `error` (the API's codes name only two kinds of failure that are
    not the input's: rate limits and the server's)."""
    code = "rate_limit_exceeded" if error.status == 429 else "server_error"
    return {"code": code, "message": error.message}


def reasoning_item(item_id: str, text: str, signature: str | None) -> dict[str, Any]:
    """A `reasoning` item: the reasoning's text, and the signature that carries the
    upstream's own (none when it gave none) back with the next turn."""
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": []}
    if text:
        item["content"] = [{"type": "reasoning_text", "text": text}]
    item["encrypted_content"] = reasoning.minted(signature)
    return item


def text_part(text: str, logprobs: list[Any] | None = None) -> dict[str, Any]:
    """An `output_text` content part."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs or []}


def message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    """An assistant `message` item."""
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": parts,
    }


def call_item(
    item_id: str,
    call_id: str,
    name: str,
    arguments: str,
    status: str,
    namespaces: Mapping[str, tuple[str, str]],
) -> dict[str, Any]:
    """A `function_call` item; a call of a namespaced function (by its canonical name, see
    `namespaces`) names its namespace and its own name."""
    item = {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }
    if name in namespaces:
        item["namespace"], item["name"] = namespaces[name]
    return item


def output_items(
    message: AnswerMessage,
    logprobs: list[Any] | None,
    namespaces: Mapping[str, tuple[str, str]],
) -> list[dict[str, Any]]:
    """The output items of one answer's assistant message."""
    items: list[dict[str, Any]] = []
    signature = message.get("reasoning_signature")
    if message.get("reasoning_content") or signature:
        text = message.get("reasoning_content") or ""
        items.append(reasoning_item(new_id("rs"), text, signature))
    parts = []
    if message.get("content"):
        parts.append(text_part(message["content"] or "", logprobs))
    if message.get("refusal"):
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        items.append(message_item(new_id("msg"), parts, "completed"))
    for call in message.get("tool_calls") or ():
        function = call.get("function")
        if function is not None:
            items.append(
                call_item(
                    new_id("fc"),
                    call["id"],
                    function["name"],
                    function["arguments"],
                    "completed",
                    namespaces,
                )
            )
    return items


def shown(items: Iterable[dict[str, Any]], include: Iterable[str]) -> list[dict[str, Any]]:
    """Output items as the caller is shown them: a reasoning item's `encrypted_content` only
    when `include` asks for it (the gateway keeps it all the same)."""
    if ENCRYPTED_REASONING in include:
        return list(items)
    return [
        {k: v for k, v in item.items() if k != "encrypted_content"}
        if item.get("type") == "reasoning"
        else item
        for item in items
    ]


def shown_response(response: dict[str, Any], include: Iterable[str]) -> dict[str, Any]:
    """A response as the caller is shown it (see `shown`)."""
    return {**response, "output": shown(response["output"], include)}


@dataclass(slots=True)
class ResponseDraft:
    """A response in the making: its identity, and the request it echoes."""

    request: Mapping[str, Any]
    # The canonical names of namespaced functions: their namespace and own name.
    namespaces: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    id: str = field(default_factory=lambda: new_id("resp"))
    created_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def include(self) -> tuple[str, ...]:
        """What the caller asked to be included."""
        return tuple(self.request.get("include") or ())

    def object(
        self,
        status: str,
        output: list[dict[str, Any]],
        answer_usage: CompletionUsage | None = None,
        error: GatewayError | None = None,
        finish_reason: str | None = None,
    ) -> dict[str, Any]:
        """The `response` object with this status and output (every item as kept)."""
        wire = self.request
        reason = INCOMPLETE_REASONS.get(finish_reason or "")
        settings = wire.get("reasoning") or {}
        text = wire.get("text") or {}
        response = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": "incomplete" if status == "completed" and reason else status,
            "background": wire.get("background") is True,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error_object(error) if error is not None else None,
            "incomplete_details": {"reason": reason} if reason else None,
            "instructions": wire.get("instructions"),
            "max_output_tokens": wire.get("max_output_tokens"),
            "max_tool_calls": wire.get("max_tool_calls"),
            "model": wire.get("model"),
            "output": output,
            "parallel_tool_calls": wire.get("parallel_tool_calls", True) is not False,
            "previous_response_id": wire.get("previous_response_id"),
            "conversation": _conversation(conversation_id(wire.get("conversation"))),
            "prompt_cache_key": wire.get("prompt_cache_key"),
            "reasoning": {
                "effort": settings.get("effort"),
                "summary": settings.get("summary"),
            },
            "safety_identifier": wire.get("safety_identifier"),
            "service_tier": wire.get("service_tier") or "auto",
            "store": wire.get("store", True) is not False,
            "temperature": wire.get("temperature", 1.0),
            "text": {
                "format": text.get("format") or {"type": "text"},
                "verbosity": text.get("verbosity") or "medium",
            },
            "tool_choice": wire.get("tool_choice", "auto"),
            "tools": wire.get("tools") or [],
            "top_logprobs": wire.get("top_logprobs", 0),
            "top_p": wire.get("top_p", 1.0),
            "truncation": wire.get("truncation") or "disabled",
            "usage": usage(answer_usage) if status not in _UNFINISHED else None,
            "user": wire.get("user"),
            "metadata": wire.get("metadata") or {},
        }
        for name in _OMITTED_WHEN_UNSET:
            if response[name] is None:
                del response[name]
        return response

    def answered(self, answer: ChatCompletion) -> dict[str, Any]:
        """The finished response for a whole canonical answer (its first choice: the
        Responses API has one)."""
        choices = answer.get("choices") or ()
        if not choices:
            return self.object("completed", [], answer.get("usage"))
        choice = choices[0]
        logprobs = (choice.get("logprobs") or {}).get("content")
        output = output_items(choice["message"], logprobs, self.namespaces)
        return self.object("completed", output, answer.get("usage"), None, choice["finish_reason"])
