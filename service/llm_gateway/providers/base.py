"""What the data plane needs from an upstream provider."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from llm_gateway.model.canonical import CanonicalAnswer, CanonicalChunk, CanonicalRequest
from llm_gateway.model.request import Endpoint
from llm_gateway.model.wire import ApiFamily, WireAnswer, WireEvent, WireRequest


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """Facts about the caller's request that travel upstream."""

    request_id: str
    connect_timeout: float | None = None
    # The W3C trace context to send upstream, if any.
    traceparent: str | None = None


class Provider(Protocol):
    """An upstream that serves OpenAI-shaped requests, whatever its own wire format.

    `create` and `stream` take a canonical request (with the upstream's model name) of the
    endpoint's kind and give canonical answers of that kind; failures are `GatewayError`s.
    `stream` raises before its first chunk when the upstream refuses the request, so that
    callers still get a proper status.
    """

    name: str
    system: str  # OpenTelemetry's `gen_ai.provider.name` for the upstream API
    # The API family the upstream speaks: a canonical request's extensions (fields the
    # canonical model does not know) reach it only when they came from this family.
    family: ApiFamily
    # Whether a caller of the same family is served by passthrough (`relay`) rather than
    # through the canonical model.
    passthrough: bool

    async def create(
        self, endpoint: Endpoint, body: CanonicalRequest, call: UpstreamCall
    ) -> CanonicalAnswer:
        """Returns the upstream's whole response."""
        ...

    def stream(
        self, endpoint: Endpoint, body: CanonicalRequest, call: UpstreamCall
    ) -> AsyncGenerator[CanonicalChunk, None]:
        """Yields the upstream's stream chunks as they arrive."""
        ...

    async def relay(self, wire: WireRequest, model: str, call: UpstreamCall) -> WireAnswer:
        """Sends a same-family request as the caller sent it (with the upstream's `model`);
        returns the upstream's answer as its bytes."""
        ...

    def relay_stream(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> AsyncGenerator[WireEvent, None]:
        """Sends a same-family streamed request; yields the upstream's events as their bytes,
        and raises (like `stream`) before the first when the upstream refuses it."""
        ...

    async def aclose(self) -> None:
        """Closes the provider's connections."""
        ...


def takes_as_sent(provider: object, family: ApiFamily) -> bool:
    """Whether `provider` takes requests of the callers' API `family` as they are: its own
    family's, and those it `relays` besides (an OpenAI upstream's own Responses API)."""
    relays = getattr(provider, "relays", None) or (getattr(provider, "family", None),)
    return family in relays


@runtime_checkable
class TokenCounting(Protocol):
    """A provider whose API counts a request's tokens (Anthropic's, Gemini's, and the
    Responses API's of a native OpenAI upstream)."""

    async def count_tokens(
        self, wire: WireRequest, model: str, call: UpstreamCall
    ) -> tuple[int, bytes]:
        """Counts a same-family request's input tokens at the upstream's counting endpoint;
        returns the count and the upstream's answer as its bytes."""
        ...
