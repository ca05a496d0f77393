"""Canonical (OpenAI) chat completions and chunks as Gemini `GenerateContentResponse`s, and
errors in Google's shape."""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.errors import GatewayError
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


def usage_metadata(usage: dict[str, Any] | None) -> dict[str, Any]:
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


def function_call_part(call: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool call as a `functionCall` part."""
    function = call.get("function") or {}
    wire = {"name": function.get("name"), "args": arguments_or_empty(function.get("arguments"))}
    if call.get("id"):
        wire["id"] = call["id"]
    return {"functionCall": wire}


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        parts.append({"text": message["reasoning_content"], "thought": True})
    if message.get("content"):
        parts.append({"text": message["content"]})
    parts += [function_call_part(call) for call in message.get("tool_calls") or ()]
    return parts


def candidate(index: int, parts: list[dict[str, Any]], finish: str | None) -> dict[str, Any]:
    """One candidate of a response."""
    wire: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish:
        wire["finishReason"] = FINISH_REASONS.get(finish, "OTHER")
    return wire


def generate_content_response(answer: dict[str, Any]) -> dict[str, Any]:
    """Returns the `GenerateContentResponse` for a `chat.completion`."""
    candidates = [
        candidate(
            choice.get("index", position),
            _parts(choice.get("message") or {}),
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
        self._calls: dict[int, dict[int, dict[str, Any]]] = {}  # candidate → index → call
        self._finish: dict[int, str] = {}
        self._usage: dict[str, Any] | None = None

    def _write(self, payload: dict[str, Any]) -> bytes:
        data = orjson.dumps(payload)
        if self._sse:
            return b"data: " + data + b"\r\n\r\n"
        self._count += 1
        return (b"[" if self._count == 1 else b",\r\n") + data

    def _response(self, candidates: list[dict[str, Any]]) -> dict[str, Any]:
        return {"candidates": candidates, "modelVersion": self._model, "responseId": self._id}

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        self._model = chunk.get("model") or self._model
        self._id = chunk.get("id") or self._id
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        candidates = []
        for choice in chunk.get("choices") or ():
            index, delta = choice.get("index", 0), choice.get("delta") or {}
            for call in delta.get("tool_calls") or ():
                self._gather(index, call)
            if choice.get("finish_reason"):
                self._finish[index] = choice["finish_reason"]
            parts = []
            if delta.get("reasoning_content"):
                parts.append({"text": delta["reasoning_content"], "thought": True})
            if delta.get("content"):
                parts.append({"text": delta["content"]})
            if parts:
                candidates.append(candidate(index, parts, None))
        return self._write(self._response(candidates)) if candidates else b""

    def _gather(self, index: int, piece: dict[str, Any]) -> None:
        calls = self._calls.setdefault(index, {})
        call = calls.setdefault(piece.get("index", 0), {"function": {"arguments": ""}})
        function = piece.get("function") or {}
        if piece.get("id"):
            call["id"] = piece["id"]
        if function.get("name"):
            call["function"]["name"] = function["name"]
        call["function"]["arguments"] += function.get("arguments") or ""

    def error(self, error: GatewayError) -> bytes:
        return self._write(error_body(error)) + (b"" if self._sse else b"]")

    def end(self) -> bytes:
        indexes = sorted(set(self._finish) | set(self._calls)) or [0]
        candidates = [
            candidate(
                index,
                [function_call_part(c) for _, c in sorted(self._calls.get(index, {}).items())],
                self._finish.get(index, "stop"),
            )
            for index in indexes
        ]
        last = {**self._response(candidates), "usageMetadata": usage_metadata(self._usage)}
        return self._write(last) + (b"" if self._sse else b"]")
