"""Counts the tokens of every request, streams cut short included.

The upstream's `usage` is the truth. A stream that ends without it (the caller went away, the
upstream broke) is still accounted: its completion tokens are estimated from what was streamed,
one token per non-empty piece of generated text, and the record says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Usage:
    """The tokens of one request."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False
    cached_tokens: int = 0  # of the prompt tokens, those read from a cache
    images: int = 0  # images made (the image APIs)
    image_kind: str = ""  # their `size/quality`, what a price per image is looked up by
    characters: int = 0  # characters of text spoken (`/v1/audio/speech`)
    seconds: float = 0.0  # of audio heard (`/v1/audio/transcriptions`, `translations`)

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _reported(usage: Any, prompt: str, completion: str, details: str) -> Usage:
    """The usage an upstream reported, under its API's names for the three counts."""
    if not isinstance(usage, dict):
        return Usage(estimated=True)
    cached_in = usage.get(details)
    cached = _count(cached_in.get("cached_tokens")) if isinstance(cached_in, dict) else 0
    return Usage(_count(usage.get(prompt)), _count(usage.get(completion)), cached_tokens=cached)


def usage_of(answer: Mapping[str, Any]) -> Usage:
    """Returns the usage an upstream reported in a whole answer or a usage chunk."""
    return _reported(
        answer.get("usage"), "prompt_tokens", "completion_tokens", "prompt_tokens_details"
    )


def responses_usage_of(response: Mapping[str, Any]) -> Usage:
    """Returns the usage of a Responses API `response` object."""
    return _reported(response.get("usage"), "input_tokens", "output_tokens", "input_tokens_details")


def image_kind(request: Mapping[str, Any]) -> str:
    """What an image request's images are priced by: `size/quality`, as asked for (the API's
    defaults where it asked for none)."""
    return f"{request.get('size') or '1024x1024'}/{request.get('quality') or 'standard'}"


def images_usage_of(answer: Mapping[str, Any], request: Mapping[str, Any]) -> Usage:
    """The usage of an image API answer: its tokens (GPT image models report them, under the
    Responses API's names), and the images it holds, of the kind `request` asked for."""
    usage = responses_usage_of(answer)
    data = answer.get("data")
    usage.images = len(data) if isinstance(data, list) else 0
    usage.image_kind = image_kind(request)
    if usage.images and answer.get("usage") is None:
        usage.estimated = False  # priced per image: nothing to estimate
    return usage


def transcript_usage_of(answer: Mapping[str, Any] | None) -> Usage:
    """The usage of a transcription or translation (`answer`: its JSON, None for a text
    format): its tokens where the model reports them (`usage.type: tokens`), and the seconds
    of audio heard (`usage.type: duration`, or verbose JSON's `duration`); none reported, the
    data plane takes the file's own length, measured at validation. Estimated when the
    upstream reported neither."""
    reported = answer.get("usage") if answer is not None else None
    if not isinstance(reported, dict):
        reported = {}
    usage = Usage(
        _count(reported.get("input_tokens")),
        _count(reported.get("output_tokens")),
        estimated=not reported and (answer is None or "duration" not in answer),
    )
    seconds = reported.get("seconds", answer.get("duration") if answer is not None else None)
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
        usage.seconds = float(seconds)
    return usage


def pieces_of(chunk: Mapping[str, Any]) -> int:
    """How many pieces of generated text an OpenAI stream chunk carries."""
    pieces = 0
    choices = chunk.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if not isinstance(delta, dict):  # a text_completion chunk
            pieces += 1 if choice.get("text") else 0
            continue
        if delta.get("content") or delta.get("refusal"):
            pieces += 1
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict) and (call.get("function") or {}).get("arguments"):
                pieces += 1
    return pieces


class StreamUsage:
    """Watches a stream's chunks and knows its usage at any point."""

    def __init__(self) -> None:
        self._reported: Usage | None = None
        self._pieces = 0

    def observe(self, chunk: Mapping[str, Any]) -> None:
        """Takes one canonical chunk into account."""
        if chunk.get("usage"):
            self._reported = usage_of(chunk)
        self._pieces += pieces_of(chunk)

    def observe_relayed(self, usage: Usage | None, pieces: int) -> None:
        """Takes one relayed event into account: the usage it reported, if any (an estimated
        one when only the prompt's is known yet), and the pieces of text it carried."""
        if usage is not None:
            self._reported = usage
        self._pieces += pieces

    @property
    def usage(self) -> Usage:
        """The upstream's usage if it arrived, otherwise the estimate."""
        reported = self._reported
        if reported is None:
            return Usage(completion_tokens=self._pieces, estimated=True)
        if reported.estimated:  # the prompt's count is known, the completion's estimated
            # Asked after every chunk: a constructor, not `dataclasses.replace` (several times
            # slower, being generic).
            completion = max(reported.completion_tokens, self._pieces)
            return Usage(
                reported.prompt_tokens,
                completion,
                True,
                reported.cached_tokens,
                reported.images,
                reported.image_kind,
                reported.characters,
                reported.seconds,
            )
        return reported
