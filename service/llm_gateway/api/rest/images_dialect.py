"""The image APIs' wire format: whole answers relayed as their bytes, and the streams of
`partial_images` as OpenAI sends them: each event named by its type (`event:
image_generation.partial_image`, `image_edit.completed`, ...), no end marker."""

from __future__ import annotations

import orjson

from llm_gateway.api.rest.relayed_dialect import RelayedDialect
from llm_gateway.errors import GatewayError
from llm_gateway.model.wire import WireEvent


class ImagesStreamFramer:
    """Writes a relayed image stream."""

    def event(self, event: WireEvent) -> bytes:
        named = f"event: {event.name}\n".encode() if event.name else b""
        return named + b"data: " + event.data + b"\n\n"

    def error(self, error: GatewayError) -> bytes:
        return b"event: error\ndata: " + orjson.dumps({"type": "error", **error.body()}) + b"\n\n"

    def end(self) -> bytes:
        return b""


# Image upstreams speak OpenAI's API: their answers and events are relayed.
IMAGES = RelayedDialect(ImagesStreamFramer())
