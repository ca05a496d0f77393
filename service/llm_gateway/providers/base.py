"""What the data plane needs from an upstream provider."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol

from llm_gateway.model.request import Endpoint


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """Facts about the caller's request that travel upstream."""

    request_id: str
    connect_timeout: float | None = None
    # The W3C trace context to send upstream, if any.
    traceparent: str | None = None


class Provider(Protocol):
    """An upstream that serves OpenAI-shaped requests, whatever its own wire format.

    Both methods take a canonical request body (with the upstream's model name) and give
    canonical responses; failures are `GatewayError`s. `stream` raises before its first chunk
    when the upstream refuses the request, so that callers still get a proper status.
    """

    name: str
    system: str  # OpenTelemetry's `gen_ai.provider.name` for the upstream API

    async def create(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> dict[str, Any]:
        """Returns the upstream's whole response."""
        ...

    def stream(
        self, endpoint: Endpoint, body: dict[str, Any], call: UpstreamCall
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Yields the upstream's stream chunks as they arrive."""
        ...

    async def aclose(self) -> None:
        """Closes the provider's connections."""
        ...
