"""OpenAI's wire format for answers, streams (`data: {json}` frames ending in `data: [DONE]`)
and errors (`{"error": {...}}`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from llm_gateway.api.rest import framing
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer, CanonicalChunk
from llm_gateway.model.wire import WireAnswer, WireEvent

_DONE = b"data: [DONE]\n\n"


def _frame(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class OpenAIStreamEncoder:
    """Canonical chunks are OpenAI's: each is one frame."""

    def chunk(self, chunk: CanonicalChunk) -> bytes:
        return _frame(chunk)

    def error(self, error: GatewayError) -> bytes:
        return _frame(error.body()) + _DONE

    def end(self) -> bytes:
        return _DONE


_ENCODER = OpenAIStreamEncoder()  # it keeps no state


class OpenAIStreamFramer:
    """Relayed chunks are OpenAI's: each is one frame, its data as the upstream sent it."""

    def event(self, event: WireEvent) -> bytes:
        return b"data: " + event.data + b"\n\n"

    def error(self, error: GatewayError) -> bytes:
        return _frame(error.body()) + _DONE

    def end(self) -> bytes:
        return _DONE


_FRAMER = OpenAIStreamFramer()  # it keeps no state


class OpenAIDialect:
    """The OpenAI REST API's answers, streams and errors."""

    stream_content_type = framing.EVENT_STREAM

    def answer(self, answer: CanonicalAnswer) -> bytes:
        return orjson.dumps(answer)

    def relayed(self, answer: WireAnswer) -> bytes:
        return answer.data  # the upstream's own bytes

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error.body())

    def encoder(self, request: GenerationRequest) -> OpenAIStreamEncoder:
        return _ENCODER

    def framer(self) -> OpenAIStreamFramer:
        return _FRAMER
