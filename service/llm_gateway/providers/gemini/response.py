"""Gemini API answers (whole and streamed) as canonical (OpenAI) chat completions."""

from __future__ import annotations

import time
from typing import Any

from llm_gateway.errors import GatewayError
from llm_gateway.model import reasoning as reasoning_state
from llm_gateway.model.canonical import (
    AnswerMessage,
    ChatChunk,
    ChatCompletion,
    Choice,
    ChunkChoice,
    CompletionUsage,
    Delta,
    ToolCall,
)
from llm_gateway.model.tool_calls import tool_call, whole_call_delta
from llm_gateway.model.wire import ApiFamily

# Gemini `finishReason` → OpenAI `finish_reason`; a reason not listed is a plain stop.
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def prompt_blocked(answer: dict[str, Any]) -> GatewayError | None:
    """The caller's error when Gemini's safety filters refused the prompt itself."""
    reason = (answer.get("promptFeedback") or {}).get("blockReason")
    if not reason or answer.get("candidates"):
        return None
    return GatewayError(
        400,
        f"The provider's safety filters blocked the prompt ({reason}).",
        param="messages",
        code="content_filter",
    )


def usage(metadata: dict[str, Any]) -> CompletionUsage:
    """Gemini's `usageMetadata` as OpenAI's usage; thinking tokens are completion tokens, as
    OpenAI counts reasoning tokens."""
    prompt = metadata.get("promptTokenCount") or 0
    thoughts = metadata.get("thoughtsTokenCount") or 0
    completion = (metadata.get("candidatesTokenCount") or 0) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": metadata.get("cachedContentTokenCount") or 0},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def finish_reason(candidate: dict[str, Any], called_tools: bool) -> str | None:
    """OpenAI's finish reason for a candidate (None while it is still generating)."""
    reason = candidate.get("finishReason")
    if not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    if called_tools and reason == "STOP":
        return "tool_calls"
    return FINISH_REASONS.get(reason, "stop")


def _signed(signature: str) -> str:
    return reasoning_state.signed_by(ApiFamily.GEMINI, signature)


def signature_of(candidate: dict[str, Any]) -> str | None:
    """The first `thoughtSignature` of a candidate's parts: what Gemini needs back with the
    turn (on its first function call) to go on with its reasoning."""
    for part in (candidate.get("content") or {}).get("parts") or ():
        if isinstance(part.get("thoughtSignature"), str):
            return str(part["thoughtSignature"])
    return None


def message_parts(
    candidate: dict[str, Any], ids_from: int
) -> tuple[str | None, str | None, list[ToolCall]]:
    """Returns (text, reasoning text, tool calls) of a candidate's content; tool calls Gemini
    gives no id are named `call_<n>`, counting from `ids_from`."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for part in (candidate.get("content") or {}).get("parts") or ():
        if "functionCall" in part:
            function = part["functionCall"] or {}
            call_id = function.get("id") or f"call_{ids_from + len(calls)}"
            calls.append(tool_call(call_id, function.get("name"), function.get("args")))
        elif "text" in part:
            (thoughts if part.get("thought") else texts).append(part["text"])
    return (
        "".join(texts) if texts else None,
        "".join(thoughts) if thoughts else None,
        calls,
    )


def _id(answer: dict[str, Any]) -> str:
    return str(answer.get("responseId") or "")


def _model(answer: dict[str, Any]) -> str:
    return str(answer.get("modelVersion") or "")


def chat_completion(answer: dict[str, Any]) -> ChatCompletion:
    """Returns the `chat.completion` for a `GenerateContentResponse`."""
    choices: list[Choice] = []
    for position, candidate in enumerate(answer.get("candidates") or ()):
        text, reasoning, calls = message_parts(candidate, 0)
        message: AnswerMessage = {"role": "assistant", "content": text, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        if reasoning:
            message["reasoning_content"] = reasoning
        if (signature := signature_of(candidate)) is not None:
            message["reasoning_signature"] = _signed(signature)
        choices.append(
            {
                "index": candidate.get("index", position),
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(candidate, bool(calls)) or "stop",
            }
        )
    return {
        "id": _id(answer),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": _model(answer),
        "choices": choices,
        "usage": usage(answer.get("usageMetadata") or {}),
    }


class StreamTranslator:
    """Turns the `GenerateContentResponse`s of one Gemini stream into OpenAI chunks.

    Gemini streams a function call whole, in one part: it becomes one tool-call delta with the
    whole `arguments`. Gemini has no end marker: the stream is complete once every candidate
    has a finish reason, and `usage_chunk` then gives the final usage. A candidate's stream ends
    at its finish reason: anything sent for it afterwards is not relayed.
    """

    def __init__(self) -> None:
        self._created = int(time.time())
        self._last: dict[str, Any] = {}
        self._calls: dict[int, int] = {}  # candidate index → tool calls so far
        self._open: set[int] = set()
        self._finished: set[int] = set()
        self._usage: dict[str, Any] = {}

    @property
    def finished(self) -> bool:
        """Whether every candidate seen has finished."""
        return bool(self._finished) and self._open <= self._finished

    def translate(self, answer: dict[str, Any]) -> list[ChatChunk]:
        """Returns the chunks of one streamed `GenerateContentResponse`."""
        self._last = answer
        self._usage = answer.get("usageMetadata") or self._usage
        chunks = []
        for position, candidate in enumerate(answer.get("candidates") or ()):
            index = candidate.get("index", position)
            if index in self._finished:
                continue
            delta: Delta = {}
            if index not in self._open:
                self._open.add(index)
                delta["role"] = "assistant"
            done = self._calls.get(index, 0)
            text, reasoning, calls = message_parts(candidate, done)
            self._calls[index] = done + len(calls)
            if text is not None:
                delta["content"] = text
            if reasoning is not None:
                delta["reasoning_content"] = reasoning
            if (signature := signature_of(candidate)) is not None:
                delta["reasoning_signature"] = _signed(signature)
            if calls:
                delta["tool_calls"] = [
                    whole_call_delta(call, done + number) for number, call in enumerate(calls)
                ]
            finish = finish_reason(candidate, self._calls[index] > 0)
            if finish:
                self._finished.add(index)
            if delta or finish:
                chunks.append(self._chunk([self._choice(index, delta, finish)]))
        return chunks

    def usage_chunk(self) -> ChatChunk:
        """The final chunk with the stream's usage."""
        last = self._chunk([])
        last["usage"] = usage(self._usage)
        return last

    @staticmethod
    def _choice(index: int, delta: Delta, finish: str | None) -> ChunkChoice:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    def _chunk(self, choices: list[ChunkChoice]) -> ChatChunk:
        return {
            "id": _id(self._last),
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": _model(self._last),
            "choices": choices,
        }
