"""The Gemini surface: `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent` over `google.api.HttpBody` RPCs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.gemini import dialect
from llm_gateway.api.gemini.request import chat_request
from llm_gateway.api.inbound import InboundCall
from llm_gateway.api.rest import exchange
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import DataPlane
from llm_gateway.model import GenerationRequest, RequestValidator
from llm_gateway.v1 import gemini_rest_service_pb2, gemini_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]
_KEY_HEADER = "x-goog-api-key"


def _model(resource: str) -> str:
    # Envoy has decoded the path variable (`%2F` included): decoding again would turn a
    # `%252F` the caller sent into a slash.
    return resource.removeprefix("models/")


class GeminiRestServicer(gemini_rest_service_pb2_grpc.GeminiRestServiceServicer):
    """Serves the Gemini API's generation methods with whatever upstream serves the model."""

    def __init__(self, dataplane: DataPlane, validator: RequestValidator, keys: KeyRing) -> None:
        self._dataplane = dataplane
        self._validator = validator
        self._keys = keys

    async def GenerateContent(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context
    ) -> AsyncIterator[HttpBody]:
        async for body in self._generate(request, context, stream=False):
            yield body

    async def StreamGenerateContent(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context
    ) -> AsyncIterator[HttpBody]:
        async for body in self._generate(request, context, stream=True):
            yield body

    async def _generate(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context, stream: bool
    ) -> AsyncIterator[HttpBody]:
        inbound = InboundCall(context, "rest")
        if request.key and _KEY_HEADER not in inbound.metadata:
            inbound.metadata[_KEY_HEADER] = request.key  # `?key=`, as Google's REST API allows
        wire = dialect.SSE if request.alt == "sse" or not stream else dialect.JSON_ARRAY

        def parse() -> GenerationRequest:
            body = exchange.load_json(request.body, "Invalid JSON payload received.")
            return self._validator.chat(chat_request(_model(request.model), body, stream))

        async for body in exchange.generate(
            context, self._keys, self._dataplane, wire, parse, inbound
        ):
            yield body
