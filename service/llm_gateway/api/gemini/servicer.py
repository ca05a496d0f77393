"""The Gemini surface: `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent` over `google.api.HttpBody` RPCs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.gemini import dialect, validation
from llm_gateway.api.gemini import request as translate
from llm_gateway.api.gemini.inbound import inbound_call, model_of
from llm_gateway.api.rest import exchange
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import DataPlane
from llm_gateway.model import Endpoint, GenerationRequest
from llm_gateway.model.wire import ApiFamily, WireRequest
from llm_gateway.v1 import gemini_rest_service_pb2, gemini_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]


def generate_content_request(
    model: str, body: HttpBody, stream: bool, metadata: Mapping[str, str]
) -> GenerationRequest:
    """A `generateContent` call, validated by Gemini's rules: passed through to a Gemini
    upstream, translated (on first need) for any other."""
    wire = validation.validate(exchange.load_json(body, "Invalid JSON payload received."))
    operation = "streamGenerateContent" if stream else "generateContent"
    return GenerationRequest(
        Endpoint.CHAT,
        wire=WireRequest.received(
            ApiFamily.GEMINI,
            operation,
            wire,
            body.data,
            stream,
            metadata,
        ),
        translate=lambda: translate.translation(model, wire, stream),
        model=model,
        sizing=translate.sizing(wire),
    )


class GeminiRestServicer(gemini_rest_service_pb2_grpc.GeminiRestServiceServicer):
    """Serves the Gemini API's generation methods with whatever upstream serves the model."""

    def __init__(self, dataplane: DataPlane, keys: KeyRing) -> None:
        self._dataplane = dataplane
        self._keys = keys

    async def GenerateContent(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context
    ) -> HttpBody:
        return await exchange.whole(self._generate(request, context, stream=False))

    async def StreamGenerateContent(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context
    ) -> AsyncIterator[HttpBody]:
        async for body in self._generate(request, context, stream=True):
            yield body

    async def _generate(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context, stream: bool
    ) -> AsyncIterator[HttpBody]:
        inbound = inbound_call(context, request.key)
        wire = dialect.SSE if request.alt == "sse" or not stream else dialect.JSON_ARRAY
        model = model_of(request.model)

        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            return generate_content_request(model, request.body, stream, metadata)

        async for body in exchange.generate(
            context, self._keys, self._dataplane, wire, parse, inbound
        ):
            yield body
