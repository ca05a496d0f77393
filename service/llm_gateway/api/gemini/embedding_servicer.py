"""The Gemini surface's embedding methods: `POST /v1beta/models/{model}:embedContent` and
`:batchEmbedContents`, over `google.api.HttpBody` RPCs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.api.httpbody_pb2 import HttpBody

from llm_gateway.api.gemini import embeddings
from llm_gateway.api.gemini.inbound import inbound_call, model_of
from llm_gateway.api.rest import exchange
from llm_gateway.auth.keys import KeyRing
from llm_gateway.dataplane import DataPlane
from llm_gateway.model import Endpoint, GenerationRequest
from llm_gateway.model.wire import ApiFamily, WireRequest
from llm_gateway.v1 import gemini_rest_service_pb2, gemini_rest_service_pb2_grpc

Context = grpc.aio.ServicerContext[Any, HttpBody]


def embed_request(
    model: str, body: HttpBody, batch: bool, metadata: Mapping[str, str]
) -> GenerationRequest:
    """An embed call, validated by Gemini's rules: passed through to a Gemini upstream,
    translated (on first need) for any other."""
    parsed = embeddings.validated(exchange.load_json(body, "Invalid JSON payload received."), batch)
    operation = "batchEmbedContents" if batch else "embedContent"
    return GenerationRequest(
        Endpoint.EMBEDDINGS,
        wire=WireRequest.received(ApiFamily.GEMINI, operation, parsed, body.data, False, metadata),
        translate=lambda: embeddings.translation(model, parsed, batch),
        model=model,
        sizing=embeddings.sizing(parsed, batch),
    )


class GeminiEmbeddingServicer(gemini_rest_service_pb2_grpc.GeminiEmbeddingServiceServicer):
    """Serves the Gemini API's embedding methods with whatever upstream serves the model."""

    def __init__(self, dataplane: DataPlane, keys: KeyRing) -> None:
        self._dataplane = dataplane
        self._keys = keys

    async def EmbedContent(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context
    ) -> HttpBody:
        return await self._embed(request, context, batch=False)

    async def BatchEmbedContents(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context
    ) -> HttpBody:
        return await self._embed(request, context, batch=True)

    async def _embed(
        self, request: gemini_rest_service_pb2.GeminiHttpRequest, context: Context, batch: bool
    ) -> HttpBody:
        inbound = inbound_call(context, request.key)
        model = model_of(request.model)
        dialect = embeddings.BATCH_EMBED if batch else embeddings.EMBED

        def parse(metadata: Mapping[str, str]) -> GenerationRequest:
            return embed_request(model, request.body, batch, metadata)

        return await exchange.whole(
            exchange.generate(context, self._keys, self._dataplane, dialect, parse, inbound)
        )
