"""A legacy completion request and its answer (`text_completion`) in the canonical form."""

from __future__ import annotations

from typing import Any, Literal, Required, TypedDict

from llm_gateway.model.canonical.chat_request import StreamOptions
from llm_gateway.model.canonical.usage import CompletionUsage


class CompletionRequest(TypedDict, total=False):
    """A `/v1/completions` request."""

    model: Required[str]
    prompt: Required[str | list[str] | list[int] | list[list[int]] | None]
    max_tokens: int | None
    n: int | None
    temperature: float | None
    top_p: float | None
    stop: str | list[str] | None
    seed: int | None
    echo: bool | None
    logprobs: int | None
    suffix: str | None
    best_of: int | None
    stream: bool | None
    stream_options: StreamOptions | None
    user: str


class CompletionChoice(TypedDict):
    """One completion of the prompt."""

    text: str
    index: int
    logprobs: dict[str, Any] | None
    finish_reason: str | None


class TextCompletion(TypedDict, total=False):
    """A whole completion answer, or one chunk of a streamed one (the same shape)."""

    id: Required[str]
    object: Required[Literal["text_completion"]]
    created: Required[int]
    model: Required[str]
    choices: Required[list[CompletionChoice]]
    usage: CompletionUsage | None
    system_fingerprint: str | None
