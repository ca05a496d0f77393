"""A validated generation request, as the data plane receives it from either API surface."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Endpoint(StrEnum):
    """The upstream operation a request needs."""

    CHAT = "chat/completions"
    COMPLETIONS = "completions"


@dataclass(slots=True)
class GenerationRequest:
    """An OpenAI request body that passed validation.

    `body` is forwarded upstream once `model` is replaced by the upstream's model name.
    `as_text_completion` is set for `/v1/completions` called with `messages`: the request is
    served as a chat completion and its answer is reshaped into a `text_completion`.
    """

    endpoint: Endpoint
    body: dict[str, Any]
    as_text_completion: bool = False

    @property
    def model(self) -> str:
        """The public model name asked for."""
        return str(self.body["model"])

    @property
    def stream(self) -> bool:
        """Whether the caller asked for a stream."""
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        """Whether the caller asked for the final usage chunk of a stream."""
        options = self.body.get("stream_options")
        return bool(options and options.get("include_usage"))
