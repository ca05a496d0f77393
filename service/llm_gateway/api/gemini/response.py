"""Canonical (OpenAI) chat completions and chunks as Gemini `GenerateContentResponse`s, and
errors in Google's shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from llm_gateway.errors import GatewayError
from llm_gateway.model.canonical import (
    AnswerMessage,
    CanonicalChunk,
    ChatCompletion,
    CompletionUsage,
    ToolCallDelta,
    as_chat_chunk,
)
from llm_gateway.model.tool_calls import arguments_or_empty

# OpenAI `finish_reason` → Gemini `finishReason`.
FINISH_REASONS = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "content_filter": "SAFETY",
}


def error_body(error: GatewayError) -> dict[str, Any]:
    """Google's error object: `{"error": {"code", "message", "status"}}`."""
    return {
        "error": {"code": error.status, "message": error.message, "status": error.grpc_status.name}
    }


def usage_metadata(usage: CompletionUsage | None) -> dict[str, Any]:
    """OpenAI's usage as Gemini's `usageMetadata`."""
    usage = usage or {}
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    metadata = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
    }
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached:
        metadata["cachedContentTokenCount"] = cached
    return metadata


def function_call_part(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    """An OpenAI tool call as a `functionCall` part."""
    wire: dict[str, Any] = {"name": name, "args": arguments_or_empty(arguments)}
    if call_id:
        wire["id"] = call_id
    return {"functionCall": wire}


def _parts(message: AnswerMessage) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if thought := message.get("reasoning_content"):
        parts.append({"text": thought, "thought": True})
    if text := message.get("content"):
        parts.append({"text": text})
    for call in message.get("tool_calls") or ():
        # Another kind of OpenAI call than a function's: Gemini's API has none.
        if (function := call.get("function")) is not None:
            parts.append(function_call_part(call["id"], function["name"], function["arguments"]))
    return parts


def candidate(index: int, parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    """One candidate of a response."""
    wire: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish:
        wire["finishReason"] = FINISH_REASONS.get(finish, "OTHER")
    return wire


def generate_content_response(answer: ChatCompletion) -> dict[str, Any]:
    """Returns the `GenerateContentResponse` for a `chat.completion`."""
    candidates = [
        candidate(
            choice.get("index", position),
            _parts(choice.get("message") or {"role": "assistant", "content": None}),
            choice.get("finish_reason") or "stop",
        )
        for position, choice in enumerate(answer.get("choices") or ())
    ]
    return {
        "candidates": candidates,
        "usageMetadata": usage_metadata(answer.get("usage")),
        "modelVersion": answer.get("model"),
        "responseId": answer.get("id"),
    }


@dataclass(slots=True)
class _GatheredCall:
    """A streamed tool call's pieces so far."""

    id: str | None = None
    name: str = ""
    arguments: str = ""


class GeminiStreamEncoder:
    """Writes canonical chunks as streamed `GenerateContentResponse`s: SSE events, or the
    elements of one JSON array when the caller did not ask for `alt=sse`.

    Text streams as it comes; Gemini sends a function call whole, so tool-call pieces are
    gathered and sent, with each candidate's finish reason and the usage, in the last response.
    """

    def __init__(self, sse: bool) -> None:
        self._sse = sse
        self._count = 0
        self._model: str | None = None
        self._id: str | None = None
        self._calls: dict[int, dict[int, _GatheredCall]] = {}  # candidate → index → call
        self._finish: dict[int, str] = {}
        self._usage: CompletionUsage | None = None

    def _write(self, payload: dict[str, Any]) -> bytes:
        data = orjson.dumps(payload)
        if self._sse:
            return b"data: " + data + b"\r\n\r\n"
        self._count += 1
        return (b"[" if self._count == 1 else b",\r\n") + data

    def _response(self, candidates: list[dict[str, Any]]) -> dict[str, Any]:
        return {"candidates": candidates, "modelVersion": self._model, "responseId": self._id}

    def chunk(self, chunk: CanonicalChunk) -> bytes:
        chat = as_chat_chunk(chunk)  # this surface asks only for chats
        self._model = chat.get("model") or self._model
        self._id = chat.get("id") or self._id
        if usage := chat.get("usage"):
            self._usage = usage
        candidates = []
        for choice in chat.get("choices") or ():
            index, delta = choice.get("index", 0), choice.get("delta") or {}
            for call in delta.get("tool_calls") or ():
                self._gather(index, call)
            if finish := choice.get("finish_reason"):
                self._finish[index] = finish
            parts: list[dict[str, Any]] = []
            if thought := delta.get("reasoning_content"):
                parts.append({"text": thought, "thought": True})
            if text := delta.get("content"):
                parts.append({"text": text})
            if parts:
                candidates.append(candidate(index, parts, None))
        return self._write(self._response(candidates)) if candidates else b""

    def _gather(self, index: int, piece: ToolCallDelta) -> None:
        call = self._calls.setdefault(index, {}).setdefault(piece["index"], _GatheredCall())
        function = piece.get("function") or {}
        call.id = piece.get("id") or call.id
        call.name = function.get("name") or call.name
        call.arguments += function.get("arguments") or ""

    def error(self, error: GatewayError) -> bytes:
        return self._write(error_body(error)) + (b"" if self._sse else b"]")

    def end(self) -> bytes:
        indexes = sorted(set(self._finish) | set(self._calls)) or [0]
        candidates = [
            candidate(
                index,
                [
                    function_call_part(c.id, c.name, c.arguments)
                    for _, c in sorted(self._calls.get(index, {}).items())
                ],
                self._finish.get(index, "stop"),
            )
            for index in indexes
        ]
        last = {**self._response(candidates), "usageMetadata": usage_metadata(self._usage)}
        return self._write(last) + (b"" if self._sse else b"]")
