"""Canonical (OpenAI) stream chunks as Anthropic's streaming events.

Content arrives as deltas of text, reasoning or tool-call arguments; each kind opens a content
block of its own (`text`, `thinking`, `tool_use`), closed when another begins. A thinking
block ends with the gateway's signature (see `model.reasoning`), carrying the upstream's. The finish
reason and the usage chunk are held until the stream completes, then sent as `message_delta`
and `message_stop`. A failure after the start is an `error` event.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.api.anthropic.response import STOP_REASONS, error_body, usage
from llm_gateway.errors import GatewayError
from llm_gateway.model import reasoning
from llm_gateway.model.canonical import (
    CanonicalChunk,
    CompletionUsage,
    ToolCallDelta,
    as_chat_chunk,
)

# How a thinking block opens: its text and signature come in deltas.
_THINKING_START = {"type": "thinking", "thinking": "", "signature": ""}


def event(kind: str, payload: dict[str, Any]) -> bytes:
    """One named SSE event, as Anthropic writes them."""
    return (
        b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"
    )


class AnthropicStreamEncoder:
    """Writes one stream of canonical chunks as Anthropic events."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._block = -1  # index of the open content block
        self._open: tuple[str, int] | None = None  # (kind, tool-call index) of the open block
        self._stop_reason = "end_turn"
        self._usage: CompletionUsage | None = None
        self._unsigned = False  # the open thinking block has no signature yet

    def chunk(self, chunk: CanonicalChunk) -> bytes:
        chat = as_chat_chunk(chunk)  # this surface asks only for chats
        out = []
        if not self._started:
            self._started = True
            out.append(self._message_start(chat.get("id"), chat.get("model")))
        if usage_so_far := chat.get("usage"):
            self._usage = usage_so_far
        for choice in chat.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if thinking := delta.get("reasoning_content"):
                out += self._thinking(thinking)
            if signature := delta.get("reasoning_signature"):
                out += self._signature(signature)
            if text := delta.get("content"):
                out += self._text(text)
            for call in delta.get("tool_calls") or ():
                out += self._tool_call(call)
            if finish := choice.get("finish_reason"):
                self._stop_reason = STOP_REASONS.get(finish, "end_turn")
        return b"".join(out)

    def error(self, error: GatewayError) -> bytes:
        return event("error", {"error": error_body(error)["error"]})

    def end(self) -> bytes:
        out = []
        if not self._started:
            self._started = True
            out.append(self._message_start(None, None))
        out += self._close()
        out.append(
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": self._stop_reason, "stop_sequence": None},
                    "usage": usage(self._usage),
                },
            )
        )
        out.append(event("message_stop", {}))
        return b"".join(out)

    def _message_start(self, message_id: str | None, model: str | None) -> bytes:
        message: dict[str, Any] = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model or self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return event("message_start", {"message": message})

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        out = []
        if self._open[0] == "thinking" and self._unsigned:
            # No upstream signature: the gateway's, so that no thinking block goes unsigned.
            out.append(
                self._delta({"type": "signature_delta", "signature": reasoning.minted(None)})
            )
            self._unsigned = False
        self._open = None
        return [*out, event("content_block_stop", {"index": self._block})]

    def _switch(self, block: tuple[str, int], content_block: dict[str, Any]) -> list[bytes]:
        """Opens `block` unless it is the open one, closing the previous block."""
        if self._open == block:
            return []
        out = self._close()
        self._block += 1
        self._open = block
        start = {"index": self._block, "content_block": content_block}
        out.append(event("content_block_start", start))
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta", {"index": self._block, "delta": delta})

    def _text(self, text: str) -> list[bytes]:
        out = self._switch(("text", 0), {"type": "text", "text": ""})
        out.append(self._delta({"type": "text_delta", "text": text}))
        return out

    def _thinking(self, text: str) -> list[bytes]:
        out = self._switch(("thinking", 0), _THINKING_START)
        out.append(self._delta({"type": "thinking_delta", "thinking": text}))
        self._unsigned = True
        return out

    def _signature(self, signature: str | None) -> list[bytes]:
        """Ends the thinking block (opening one if none is) with the gateway's signature,
        which carries the upstream's back with the caller's next turn."""
        out = self._switch(("thinking", 0), _THINKING_START)
        out.append(
            self._delta({"type": "signature_delta", "signature": reasoning.minted(signature)})
        )
        self._unsigned = False
        return out

    def _tool_call(self, call: ToolCallDelta) -> list[bytes]:
        function = call.get("function") or {}
        start: dict[str, Any] = {
            "type": "tool_use",
            "id": call.get("id"),
            "name": function.get("name"),
            "input": {},
        }
        out = self._switch(("tool_use", call.get("index", 0)), start)
        if function.get("arguments"):
            out.append(
                self._delta({"type": "input_json_delta", "partial_json": function["arguments"]})
            )
        return out
