"""Anthropic's streaming events as canonical (OpenAI) `chat.completion.chunk`s.

A `tool_use` content block becomes one tool call, with its own OpenAI tool-call index (the
count of tool blocks before it), whose `input_json_delta` pieces stream as `arguments`. The
forced JSON tool streams as message content. The stream is complete at `message_stop`, which
also gives the final usage chunk; `error` events raise.
"""

from __future__ import annotations

import time
from typing import Any

from llm_gateway.model import reasoning
from llm_gateway.model.canonical import ChatChunk, Delta, ToolCallDelta
from llm_gateway.model.wire import ApiFamily
from llm_gateway.providers import upstream_errors
from llm_gateway.providers.anthropic.errors import error_fields
from llm_gateway.providers.anthropic.request import JSON_TOOL
from llm_gateway.providers.anthropic.response import finish_reason, usage


class StreamTranslator:
    """Turns one Anthropic event stream into OpenAI chunks."""

    def __init__(self, hide_messages: bool = False) -> None:
        self._hide_messages = hide_messages
        self.finished = False
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._usage: dict[str, Any] = {}
        self._tool_index: dict[int, int] = {}  # content block index → OpenAI tool-call index
        self._json_blocks: set[int] = set()
        self._answered_json = False
        self._signatures = 0  # signed thinking blocks so far

    def _chunk(self, delta: Delta, finish: str | None = None) -> ChatChunk:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def translate(self, event: dict[str, Any]) -> list[ChatChunk]:
        """Returns the chunks that one event stands for (often one, sometimes none)."""
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self._id, self._model = str(message.get("id") or ""), str(message.get("model") or "")
            self._usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(event.get("index", 0), event.get("content_block") or {})
        if kind == "content_block_delta":
            return self._block_delta(event.get("index", 0), event.get("delta") or {})
        if kind == "message_delta":
            self._usage.update({k: v for k, v in (event.get("usage") or {}).items() if v})
            reason = (event.get("delta") or {}).get("stop_reason")
            finish = finish_reason(reason, self._answered_json)
            return [self._chunk({}, finish)] if finish else []
        if kind == "message_stop":
            self.finished = True
            last = self._chunk({})
            last["choices"], last["usage"] = [], usage(self._usage)
            return [last]
        if kind == "error":
            raise upstream_errors.error_in_stream(event, self._hide_messages, error_fields)
        return []  # ping, content_block_stop, and event types added after this was written

    def _block_start(self, index: int, block: dict[str, Any]) -> list[ChatChunk]:
        kind = block.get("type")
        if kind == "tool_use" and block.get("name") == JSON_TOOL:
            self._json_blocks.add(index)
            self._answered_json = True
            return []
        if kind == "tool_use":
            position = self._tool_index[index] = len(self._tool_index)
            call: ToolCallDelta = {
                "index": position,
                "id": str(block.get("id") or ""),
                "type": "function",
                "function": {"name": str(block.get("name") or ""), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        return []

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[ChatChunk]:
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk({"content": delta.get("text", "")})]
        if kind == "thinking_delta":
            return [self._chunk({"reasoning_content": delta.get("thinking", "")})]
        if kind == "signature_delta" and delta.get("signature"):
            self._signatures += 1
            if self._signatures > 1:
                # Interleaved thinking (a beta an OpenAI caller does not send): each signature
                # covers its own block, and the first has already gone out.
                return []
            signed = reasoning.signed_by(ApiFamily.ANTHROPIC, str(delta["signature"]))
            return [self._chunk({"reasoning_signature": signed})]
        if kind == "input_json_delta":
            piece = delta.get("partial_json", "")
            if index in self._json_blocks:
                return [self._chunk({"content": piece})] if piece else []
            call = ToolCallDelta(
                index=self._tool_index.get(index, 0), function={"arguments": piece}
            )
            return [self._chunk({"tool_calls": [call]})]
        return []
