"""Anthropic's wire format for answers, streams and errors."""

from __future__ import annotations

from typing import Any

import orjson

from llm_gateway.api.anthropic.response import error_body, message
from llm_gateway.api.anthropic.stream import AnthropicStreamEncoder
from llm_gateway.errors import GatewayError
from llm_gateway.model import GenerationRequest


class AnthropicDialect:
    """The Messages API's answers, streams and errors."""

    stream_content_type = "text/event-stream"

    def answer(self, answer: dict[str, Any]) -> bytes:
        return orjson.dumps(message(answer))

    def error(self, error: GatewayError) -> bytes:
        return orjson.dumps(error_body(error))

    def encoder(self, request: GenerationRequest) -> AnthropicStreamEncoder:
        return AnthropicStreamEncoder(request.model)
