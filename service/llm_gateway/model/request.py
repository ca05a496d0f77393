"""A validated generation request, as the data plane receives it from any API surface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from llm_gateway.model.canonical import CanonicalRequest
from llm_gateway.model.wire import ApiFamily, WireRequest


class Endpoint(StrEnum):
    """The upstream operation a request needs."""

    CHAT = "chat/completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    MODERATIONS = "moderations"
    IMAGE_GENERATIONS = "images/generations"
    IMAGE_EDITS = "images/edits"
    IMAGE_VARIATIONS = "images/variations"
    SPEECH = "audio/speech"
    TRANSCRIPTIONS = "audio/transcriptions"
    TRANSLATIONS = "audio/translations"


class Operation(StrEnum):
    """What a caller asks a model to do, whatever its API: what a model is configured to
    serve (`models.<name>.operations`) and lists in `/v1/models`."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    RESPONSES = "responses"
    EMBEDDINGS = "embeddings"
    MODERATIONS = "moderations"
    IMAGES = "images"
    AUDIO = "audio"


# The endpoints that make images.
IMAGE_ENDPOINTS = frozenset(
    (Endpoint.IMAGE_GENERATIONS, Endpoint.IMAGE_EDITS, Endpoint.IMAGE_VARIATIONS)
)
# The endpoints of the audio APIs.
AUDIO_ENDPOINTS = frozenset((Endpoint.SPEECH, Endpoint.TRANSCRIPTIONS, Endpoint.TRANSLATIONS))
# What every endpoint but chat's serves, by the endpoint's name.
_OPERATION_OF = {
    Endpoint.COMPLETIONS.value: Operation.COMPLETIONS,
    Endpoint.EMBEDDINGS.value: Operation.EMBEDDINGS,
    Endpoint.MODERATIONS.value: Operation.MODERATIONS,
    Endpoint.IMAGE_GENERATIONS.value: Operation.IMAGES,
    Endpoint.IMAGE_EDITS.value: Operation.IMAGES,
    Endpoint.IMAGE_VARIATIONS.value: Operation.IMAGES,
    Endpoint.SPEECH.value: Operation.AUDIO,
    Endpoint.TRANSCRIPTIONS.value: Operation.AUDIO,
    Endpoint.TRANSLATIONS.value: Operation.AUDIO,
}


@dataclass(frozen=True, slots=True)
class Translation:
    """A request translated into the canonical (OpenAI) form, and the caller's fields the
    canonical form could not carry (named as the caller named them)."""

    body: CanonicalRequest
    dropped: tuple[str, ...] = ()


class GenerationRequest:
    """A request that passed its surface's validation.

    `wire` is the request as the caller sent it, when it came in one of the REST APIs: a
    same-family upstream is sent that. The canonical `body` (OpenAI's chat or completions
    JSON) is what every other upstream is sent, translated from `wire` the first time it is
    needed, so a request served by passthrough is never translated at all. `sizing` (OpenAI's
    `messages`, `max_tokens` and `n` for the caller's) is what admission estimates tokens
    from. `as_text_completion` is set for `/v1/completions` called with `messages`: it is
    served as a chat completion and its answer reshaped into a `text_completion`.
    """

    __slots__ = (
        "_served_as",
        "_sizing",
        "_translate",
        "_translation",
        "as_text_completion",
        "endpoint",
        "model",
        "wire",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        body: CanonicalRequest | None = None,
        as_text_completion: bool = False,
        *,
        wire: WireRequest | None = None,
        translate: Callable[[], Translation] | None = None,
        model: str | None = None,
        sizing: Mapping[str, Any] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.wire = wire
        self.as_text_completion = as_text_completion
        self._translation = Translation(body) if body is not None else None
        self._translate = translate
        self._sizing = sizing
        if model is None:
            if body is not None:
                model = body["model"]
            else:
                model = str(wire.body.get("model", "")) if wire is not None else ""
        self.model = model  # the public model name asked for
        # Asked twice per request (admission, the fallbacks' filter): decided once.
        self._served_as = self._operation()

    @property
    def family(self) -> ApiFamily:
        """The API family the caller speaks."""
        return self.wire.family if self.wire is not None else ApiFamily.OPENAI

    @property
    def surface(self) -> str:
        """The API the caller used: a REST family's name, or `grpc` for the typed API."""
        wire = self.wire
        return wire.family.value if wire is not None and not wire.typed else "grpc"

    @property
    def served_as(self) -> Operation:
        """The operation the model must serve for this request."""
        return self._served_as

    def _operation(self) -> Operation:
        endpoint = self.endpoint
        if endpoint is Endpoint.CHAT:  # most requests: decided in two tests
            if self.wire is not None and self.wire.family is ApiFamily.RESPONSES:
                return Operation.RESPONSES
            return Operation.COMPLETIONS if self.as_text_completion else Operation.CHAT
        return _OPERATION_OF[endpoint.value]

    @property
    def operation(self) -> str:
        """The caller's own name for the call (`messages`, `generateContent`, ...)."""
        return self.wire.operation if self.wire is not None else self.endpoint.value

    def translation(self) -> Translation:
        """The canonical request; raises the surface's 400 when it cannot be translated."""
        if self._translation is None:
            assert self._translate is not None, "a request has a body or a translation"
            self._translation = self._translate()
        return self._translation

    @property
    def body(self) -> CanonicalRequest:
        """The canonical (OpenAI) request body."""
        return self.translation().body

    @property
    def caller_body(self) -> Mapping[str, Any]:
        """The body as the caller sent it (the canonical one for the typed gRPC API)."""
        return self.wire.body if self.wire is not None else self.body

    @property
    def sizing(self) -> Mapping[str, Any]:
        """What admission estimates tokens from, in OpenAI's names (`messages`, `max_tokens`,
        `n`): given by the surface for a wire request, so estimating never translates."""
        return self._sizing if self._sizing is not None else self.body

    @property
    def stream(self) -> bool:
        """Whether the caller asked for a stream (speech always streams: its audio is relayed
        as it comes)."""
        if self.endpoint is Endpoint.SPEECH:
            return True
        if self.wire is not None:
            return self.wire.stream
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        """Whether a canonical stream's final usage chunk is passed on to the caller."""
        fields: Mapping[str, Any] = self.body
        options = fields.get("stream_options")
        return bool(options and options.get("include_usage"))
