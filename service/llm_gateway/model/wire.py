"""A caller's request in its own API's wire format, and an upstream's answer in the same one.

When the caller's API and the upstream's are the same family, the gateway passes the request
through instead of translating it: the body goes upstream as the caller sent it (only the
model name, which the gateway owns, is rewritten), and the answer or each stream event comes
back as the upstream sent it. These types carry both directions; the data plane reads usage
from them without re-encoding anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from llm_gateway.model.multipart import FormPart
from llm_gateway.usage.accounting import Usage


class ApiFamily(StrEnum):
    """An upstream API family: the REST surfaces and the providers each speak one."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    # OpenAI's Responses API: translated for any family's generation API, and relayed to an
    # OpenAI upstream that speaks it itself (`responses_api: native`).
    RESPONSES = "responses"


# The request headers of a caller that belong to its API and travel upstream with a
# passthrough request (never a key: each provider sends its own).
FORWARDED_HEADERS: dict[ApiFamily, tuple[str, ...]] = {
    ApiFamily.OPENAI: ("openai-beta",),
    ApiFamily.ANTHROPIC: ("anthropic-beta", "anthropic-version"),
    ApiFamily.GEMINI: (),
    ApiFamily.RESPONSES: (),
}


def forwarded_headers(
    family: ApiFamily, metadata: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The caller's headers that go upstream with its request passed through."""
    return tuple((n, metadata[n]) for n in FORWARDED_HEADERS[family] if n in metadata)


@dataclass(frozen=True, slots=True)
class WireRequest:
    """A request as the caller sent it.

    `body` is the parsed JSON object; `raw` its bytes, sent as they are when the upstream
    takes the model name elsewhere than in the body (Gemini's URL). `operation` is the
    family's own name for the call (`chat/completions`, `completions`, `messages`,
    `generateContent`). `relayable` is false for a request no upstream of its family could
    take as it is (a `/v1/completions` call with `messages`). A `multipart/form-data` request
    (an image edit) has its `form` parts, files as sent; `body` is then its text fields.
    `typed` marks the form a typed gRPC call was turned into (a transcription: the upstream's
    API takes nothing else), so it is still counted as the typed API's.
    """

    family: ApiFamily
    operation: str
    body: dict[str, Any]
    raw: bytes
    stream: bool
    headers: tuple[tuple[str, str], ...] = ()
    relayable: bool = True
    form: tuple[FormPart, ...] = ()
    typed: bool = False

    @classmethod
    def received(
        cls,
        family: ApiFamily,
        operation: str,
        body: dict[str, Any],
        raw: bytes,
        stream: bool,
        metadata: Mapping[str, str],
        form: tuple[FormPart, ...] = (),
    ) -> WireRequest:
        """A request as a surface received it, with the caller's headers of its API."""
        headers = forwarded_headers(family, metadata)
        return cls(family, operation, body, raw, stream, headers, form=form)


@dataclass(frozen=True, slots=True)
class WireAnswer:
    """An upstream's whole answer, relayed as its bytes, under its media type (JSON, but for
    a transcript asked for as text, SRT or VTT)."""

    data: bytes
    usage: Usage
    content_type: str = "application/json"


@dataclass(slots=True)
class WireEvent:
    """One event of an upstream's stream, relayed as its bytes.

    `data` is the event's `data:` payload; `name` its SSE event name where the family uses
    one (Anthropic's). `usage` is the stream's usage so far when this event reported it;
    `pieces` how many pieces of generated text it carried (the estimate for a stream cut
    short). `hidden` events are read for accounting but not relayed (OpenAI's usage chunk
    that only the gateway asked for).
    """

    data: bytes
    name: str | None = None
    usage: Usage | None = None
    pieces: int = 0
    hidden: bool = False
