"""Anthropic's wire format for answers, streams and errors."""

from __future__ import annotations

import orjson

from llm_gateway.api.anthropic.response import error_body, message
from llm_gateway.api.anthropic.stream import AnthropicStreamEncoder, event
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer, as_chat
from llm_gateway.model.wire import WireAnswer, WireEvent


class AnthropicStreamFramer:
    """Relayed events keep their name and data; the upstream's `message_stop` ends them."""

    def event(self, relayed: WireEvent) -> bytes:
        name = (relayed.name or "").encode()
        return b"event: " + name + b"\ndata: " + relayed.data + b"\n\n"

    def error(self, error: GatewayError) -> bytes:
        return event("error", {"error": error_body(error)["error"]})

    def end(self) -> bytes:
        return b""


_FRAMER = AnthropicStreamFramer()  # it keeps no state


class AnthropicDialect:
    """The Messages API's answers, streams and errors."""

    stream_content_type = "text/event-stream"

    def answer(self, answer: CanonicalAnswer) -> bytes:
        # This surface asks only for chat completions.
        return orjson.dumps(message(as_chat(answer)))

    def relayed(self, answer: WireAnswer) -> bytes:
        return answer.data  # the upstream's own bytes

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error_body(error))

    def encoder(self, request: GenerationRequest) -> AnthropicStreamEncoder:
        return AnthropicStreamEncoder(request.model)

    def framer(self) -> AnthropicStreamFramer:
        return _FRAMER
