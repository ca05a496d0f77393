"""A chat completion answer (`chat.completion`) in the canonical form."""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

from llm_gateway.model.canonical.messages import FunctionCall, ToolCall
from llm_gateway.model.canonical.usage import CompletionUsage


class AnswerMessage(TypedDict, total=False):
    """The assistant's answer in one choice."""

    role: Required[Literal["assistant"]]
    content: Required[str | None]
    refusal: str | None
    tool_calls: list[ToolCall]
    annotations: list[dict[str, Any]]
    audio: dict[str, Any] | None
    function_call: FunctionCall | None  # OpenAI's deprecated single call
    reasoning_content: str
    reasoning_signature: str


class Choice(TypedDict, total=False):
    """One of the answer's choices, and why its generation stopped."""

    index: Required[int]
    message: Required[AnswerMessage]
    finish_reason: Required[str | None]
    logprobs: dict[str, Any] | None


class ChatCompletion(TypedDict, total=False):
    """A whole chat completion answer."""

    id: Required[str]
    object: Required[Literal["chat.completion"]]
    created: Required[int]
    model: Required[str]
    choices: Required[list[Choice]]
    usage: CompletionUsage
    system_fingerprint: str | None
    service_tier: str | None
    metadata: dict[str, str] | None
    moderation: dict[str, Any] | None
