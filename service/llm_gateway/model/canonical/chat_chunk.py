"""A chunk of a streamed chat completion (`chat.completion.chunk`) in the canonical form."""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

from llm_gateway.model.canonical.usage import CompletionUsage


class _FunctionDelta(TypedDict, total=False):
    name: str
    arguments: str


class ToolCallDelta(TypedDict, total=False):
    """A piece of a tool call: its first piece has the id and name, later ones more of the
    arguments' text, all at the call's `index`."""

    index: Required[int]
    id: str
    type: Literal["function"]
    function: _FunctionDelta


class Delta(TypedDict, total=False):
    """What a chunk adds to one choice's message."""

    role: Literal["assistant"]
    content: str | None
    refusal: str | None
    tool_calls: list[ToolCallDelta]
    function_call: _FunctionDelta | None  # OpenAI's deprecated single call
    reasoning_content: str
    reasoning_signature: str


class ChunkChoice(TypedDict, total=False):
    """One choice's part of a chunk; `finish_reason` is set on its last."""

    index: Required[int]
    delta: Required[Delta]
    finish_reason: str | None
    logprobs: dict[str, Any] | None


class ChatChunk(TypedDict, total=False):
    """One chunk of a stream; the last (when the caller asked for usage) has no choices and
    the stream's `usage`."""

    id: Required[str]
    object: Required[Literal["chat.completion.chunk"]]
    created: Required[int]
    model: Required[str]
    choices: Required[list[ChunkChoice]]
    usage: CompletionUsage | None
    system_fingerprint: str | None
    service_tier: str | None
    moderation: dict[str, Any] | None
    obfuscation: str
