"""The image APIs' wire format: whole answers relayed as their bytes, and the streams of
`partial_images` as OpenAI sends them: each event named by its type (`event:
image_generation.partial_image`, `image_edit.completed`, ...), no end marker."""

from __future__ import annotations

import orjson

from llm_gateway.api.rest.exchange import StreamEncoder
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer
from llm_gateway.model.wire import WireAnswer, WireEvent


class ImagesStreamFramer:
    """Writes a relayed image stream."""

    def event(self, event: WireEvent) -> bytes:
        named = f"event: {event.name}\n".encode() if event.name else b""
        return named + b"data: " + event.data + b"\n\n"

    def error(self, error: GatewayError) -> bytes:
        return b"event: error\ndata: " + orjson.dumps({"type": "error", **error.body()}) + b"\n\n"

    def end(self) -> bytes:
        return b""


class ImagesDialect:
    """Image answers (only ever relayed: image upstreams speak OpenAI's API) and OpenAI's
    errors."""

    stream_content_type = "text/event-stream"

    def answer(self, answer: CanonicalAnswer) -> bytes:
        return orjson.dumps(answer)

    def relayed(self, answer: WireAnswer) -> bytes:
        return answer.data  # the upstream's own bytes

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error.body())

    def encoder(self, request: GenerationRequest) -> StreamEncoder:
        raise AssertionError("image streams are only relayed")

    def framer(self) -> ImagesStreamFramer:
        return ImagesStreamFramer()


IMAGES = ImagesDialect()
