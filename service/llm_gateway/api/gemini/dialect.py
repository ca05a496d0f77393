"""The Gemini API's wire format for answers, streams and errors."""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.api.gemini.response import (
    GeminiStreamEncoder,
    error_body,
    generate_content_response,
)
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest


class GeminiDialect:
    """`generateContent` answers and errors; `streamGenerateContent` as SSE (`alt=sse`) or
    as one JSON array."""

    def __init__(self, sse: bool) -> None:
        self._sse = sse
        self.stream_content_type = "text/event-stream" if sse else "application/json"

    def answer(self, answer: dict[str, Any]) -> bytes:
        return orjson.dumps(generate_content_response(answer))

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error_body(error))

    def encoder(self, request: GenerationRequest) -> GeminiStreamEncoder:
        return GeminiStreamEncoder(self._sse)


SSE = GeminiDialect(sse=True)
JSON_ARRAY = GeminiDialect(sse=False)
