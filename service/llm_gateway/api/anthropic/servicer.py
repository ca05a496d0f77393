"""The Anthropic surface: `POST /v1/messages` over a `google.api.HttpBody` RPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.anthropic.dialect import AnthropicDialect
from llm_gateway.api.anthropic.request import chat_request
from llm_gateway.api.rest import exchange
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import DataPlane
from llm_gateway.model import GenerationRequest, RequestValidator
from llm_gateway.v1 import anthropic_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]
_DIALECT = AnthropicDialect()


class AnthropicRestServicer(anthropic_rest_service_pb2_grpc.AnthropicRestServiceServicer):
    """Serves `/v1/messages` with whatever upstream serves the model."""

    def __init__(self, dataplane: DataPlane, validator: RequestValidator, keys: KeyRing) -> None:
        self._dataplane = dataplane
        self._validator = validator
        self._keys = keys

    async def CreateMessage(self, request: HttpBody, context: Context) -> AsyncIterator[HttpBody]:
        def parse() -> GenerationRequest:
            return self._validator.chat(
                chat_request(exchange.load_json(request, "The request body is not valid JSON."))
            )

        async for body in exchange.generate(context, self._keys, self._dataplane, _DIALECT, parse):
            yield body
