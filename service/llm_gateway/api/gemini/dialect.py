"""The Gemini API's wire format for answers, streams and errors."""

from __future__ import annotations

import orjson

from llm_gateway.api.gemini.response import (
    GeminiStreamEncoder,
    error_body,
    generate_content_response,
)
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest
from llm_gateway.model.canonical import CanonicalAnswer, as_chat
from llm_gateway.model.wire import WireAnswer, WireEvent


class GeminiStreamFramer:
    """Relayed `GenerateContentResponse`s, each as the upstream sent it: SSE events, or the
    elements of one JSON array."""

    def __init__(self, sse: bool) -> None:
        self._sse = sse
        self._count = 0

    def _write(self, data: bytes) -> bytes:
        if self._sse:
            return b"data: " + data + b"\r\n\r\n"
        self._count += 1
        return (b"[" if self._count == 1 else b",\r\n") + data

    def event(self, event: WireEvent) -> bytes:
        return self._write(event.data)

    def error(self, error: GatewayError) -> bytes:
        return self._write(orjson.dumps(error_body(error))) + (b"" if self._sse else b"]")

    def end(self) -> bytes:
        if self._sse:
            return b""
        return b"]" if self._count else b"[]"


class GeminiDialect:
    """`generateContent` answers and errors; `streamGenerateContent` as SSE (`alt=sse`) or
    as one JSON array."""

    def __init__(self, sse: bool) -> None:
        self._sse = sse
        self.stream_content_type = "text/event-stream" if sse else "application/json"

    def answer(self, answer: CanonicalAnswer) -> bytes:
        return orjson.dumps(
            generate_content_response(as_chat(answer))
        )  # this surface asks only for chats

    def relayed(self, answer: WireAnswer) -> bytes:
        return answer.data  # the upstream's own bytes

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error_body(error))

    def encoder(self, request: GenerationRequest) -> GeminiStreamEncoder:
        return GeminiStreamEncoder(self._sse)

    def framer(self) -> GeminiStreamFramer:
        return GeminiStreamFramer(self._sse)


SSE = GeminiDialect(sse=True)
JSON_ARRAY = GeminiDialect(sse=False)
